package ocibuild

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// LayerTar returns the uncompressed tar of one layer holding entries.
// Parent directories that no entry names are added as root-owned 0755
// directories. Entries are written sorted by path, each with mtime as its
// modification time (truncated to the second), so the same input always
// gives the same bytes.
func LayerTar(entries []Entry, mtime time.Time) ([]byte, error) {
	byPath := make(map[string]Entry, len(entries))
	for _, e := range entries {
		if err := e.validate(); err != nil {
			return nil, err
		}
		if _, dup := byPath[e.Path]; dup {
			return nil, fmt.Errorf("%w: %s", ErrDuplicatePath, e.Path)
		}
		byPath[e.Path] = e
	}
	for _, e := range entries {
		for dir := path.Dir(e.Path); dir != "/"; dir = path.Dir(dir) {
			parent, ok := byPath[dir]
			if !ok {
				byPath[dir] = Dir(dir, 0o755)
				continue
			}
			if parent.Type != TypeDir {
				return nil, fmt.Errorf("%w: %s is below %s", ErrNotDir, e.Path, dir)
			}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, p := range paths {
		e := byPath[p]
		hdr := header(e, mtime)
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("ocibuild: tar header of %s: %w", p, err)
		}
		if e.Type == TypeFile {
			if _, err := tw.Write(e.Data); err != nil {
				return nil, fmt.Errorf("ocibuild: tar content of %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("ocibuild: closing the layer tar: %w", err)
	}
	return buf.Bytes(), nil
}

// header returns e's tar header: a name relative to the root, as image
// layers have them, numeric owners only, and no access or change time.
func header(e Entry, mtime time.Time) *tar.Header {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(e.Path, "/"),
		Mode:    tarMode(e.Mode),
		Uid:     e.UID,
		Gid:     e.GID,
		ModTime: mtime,
	}
	switch e.Type {
	case TypeFile:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(len(e.Data))
	case TypeDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case TypeSymlink:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.Target
		hdr.Mode = 0o777
	}
	return hdr
}

// tarMode converts Go's mode bits into the Unix ones a tar header holds.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
