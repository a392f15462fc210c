package ocibuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"testing"
	"time"
)

type tarEntry struct {
	name     string
	typeflag byte
	mode     int64
	uid, gid int
	content  string
	link     string
}

func readTar(t *testing.T, data []byte) ([]tarEntry, []*tar.Header) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []tarEntry
	var hdrs []*tar.Header
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, string(content), hdr.Linkname})
		hdrs = append(hdrs, hdr)
	}
}

func TestLayerTar(t *testing.T) {
	mtime := time.Date(2026, 5, 7, 12, 0, 0, 900, time.FixedZone("x", 3600))
	got, err := LayerTar([]Entry{
		File("/usr/bin/tool", 0o755, []byte("bin")),
		Dir("/tmp", 0o777|fs.ModeSticky),
		Symlink("/bin/sh", "busybox"),
		Dir("/home/nonroot", 0o700).Owned(65532, 65532),
		File("/etc/passwd", 0o644, []byte("root:x:0:0::/:/x\n")),
	}, mtime)
	if err != nil {
		t.Fatal(err)
	}
	entries, hdrs := readTar(t, got)
	want := []tarEntry{
		{"bin/", tar.TypeDir, 0o755, 0, 0, "", ""},
		{"bin/sh", tar.TypeSymlink, 0o777, 0, 0, "", "busybox"},
		{"etc/", tar.TypeDir, 0o755, 0, 0, "", ""},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0, "root:x:0:0::/:/x\n", ""},
		{"home/", tar.TypeDir, 0o755, 0, 0, "", ""},
		{"home/nonroot/", tar.TypeDir, 0o700, 65532, 65532, "", ""},
		{"tmp/", tar.TypeDir, 0o1777, 0, 0, "", ""},
		{"usr/", tar.TypeDir, 0o755, 0, 0, "", ""},
		{"usr/bin/", tar.TypeDir, 0o755, 0, 0, "", ""},
		{"usr/bin/tool", tar.TypeReg, 0o755, 0, 0, "bin", ""},
	}
	if len(entries) != len(want) {
		t.Fatalf("got %d entries %+v, want %d", len(entries), entries, len(want))
	}
	for i := range want {
		if entries[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, entries[i], want[i])
		}
	}
	wantTime := time.Date(2026, 5, 7, 11, 0, 0, 0, time.UTC)
	for _, h := range hdrs {
		if !h.ModTime.Equal(wantTime) || h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() {
			t.Errorf("%s: mtime %v uname %q gname %q atime %v, want %v and no names or atime", h.Name, h.ModTime, h.Uname, h.Gname, h.AccessTime, wantTime)
		}
	}

	again, err := LayerTar([]Entry{
		File("/etc/passwd", 0o644, []byte("root:x:0:0::/:/x\n")),
		Dir("/home/nonroot", 0o700).Owned(65532, 65532),
		Symlink("/bin/sh", "busybox"),
		Dir("/tmp", 0o777|fs.ModeSticky),
		File("/usr/bin/tool", 0o755, []byte("bin")),
	}, mtime)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Error("the same entries in another order gave different bytes")
	}
}

func TestLayerTarErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []Entry
		want    error
	}{
		{"relative path", []Entry{File("etc/passwd", 0o644, nil)}, ErrBadEntry},
		{"root", []Entry{Dir("/", 0o755)}, ErrBadEntry},
		{"empty path", []Entry{File("", 0o644, nil)}, ErrBadEntry},
		{"unclean path", []Entry{File("/etc/../passwd", 0o644, nil)}, ErrBadEntry},
		{"trailing slash", []Entry{Dir("/tmp/", 0o755)}, ErrBadEntry},
		{"type bits in mode", []Entry{File("/x", fs.ModeDir|0o755, nil)}, ErrBadEntry},
		{"negative uid", []Entry{File("/x", 0o644, nil).Owned(-1, 0)}, ErrBadEntry},
		{"symlink without target", []Entry{Symlink("/x", "")}, ErrBadEntry},
		{"dir with content", []Entry{{Path: "/x", Type: TypeDir, Mode: 0o755, Data: []byte("x")}}, ErrBadEntry},
		{"file with target", []Entry{{Path: "/x", Type: TypeFile, Mode: 0o644, Target: "y"}}, ErrBadEntry},
		{"unknown type", []Entry{{Path: "/x", Mode: 0o644}}, ErrBadEntry},
		{"duplicate", []Entry{File("/x", 0o644, nil), Dir("/x", 0o755)}, ErrDuplicatePath},
		{"below a file", []Entry{File("/x", 0o644, nil), File("/x/y", 0o644, nil)}, ErrNotDir},
		{"below a symlink", []Entry{Symlink("/lib", "usr/lib"), File("/lib/libc.so", 0o644, nil)}, ErrNotDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LayerTar(tc.entries, time.Unix(0, 0))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
