package ocibuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var epoch = time.Unix(1780000000, 0).UTC()

func testEntries() []Entry {
	return []Entry{
		File("/app", 0o755, bytes.Repeat([]byte("binary "), 1000)),
		Dir("/tmp", 0o777|os.ModeSticky),
	}
}

func testConfig() Config {
	return Config{
		Entrypoint:   []string{"/app"},
		Env:          []string{"PATH=/bin"},
		User:         "65532:65532",
		ExposedPorts: []string{"8081/tcp", "4040/tcp"},
		Labels:       map[string]string{"org.opencontainers.image.version": "v1"},
		OS:           "linux",
		Architecture: "amd64",
		CreatedBy:    "test",
	}
}

func mustBuild(t *testing.T, entries []Entry, cfg Config, created time.Time) v1.Image {
	t.Helper()
	img, err := Build(entries, cfg, created)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildConfig(t *testing.T) {
	img := mustBuild(t, testEntries(), testConfig(), epoch)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cf.Created.Time.Equal(epoch) || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("created %v os %s arch %s", cf.Created.Time, cf.OS, cf.Architecture)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"/app"}) || c.User != "65532:65532" || c.Labels["org.opencontainers.image.version"] != "v1" {
		t.Errorf("config = %+v", c)
	}
	if _, ok := c.ExposedPorts["4040/tcp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("exposed ports = %v", c.ExposedPorts)
	}
	if len(cf.History) != 1 || cf.History[0].CreatedBy != "test" || len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("history %+v rootfs %+v", cf.History, cf.RootFS)
	}
}

func TestBuildReproducible(t *testing.T) {
	first := digest(t, mustBuild(t, testEntries(), testConfig(), epoch))
	second := digest(t, mustBuild(t, testEntries(), testConfig(), epoch))
	if first != second {
		t.Fatalf("two builds of the same input: %s and %s", first, second)
	}
	if later := digest(t, mustBuild(t, testEntries(), testConfig(), epoch.Add(time.Second))); later == first {
		t.Error("another creation time gave the same digest")
	}
	changed := testEntries()
	changed[0].Mode = 0o700
	if d := digest(t, mustBuild(t, changed, testConfig(), epoch)); d == first {
		t.Error("another file mode gave the same digest")
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"no entrypoint or cmd", func(c *Config) { c.Entrypoint = nil }},
		{"no OS", func(c *Config) { c.OS = "" }},
		{"no architecture", func(c *Config) { c.Architecture = "" }},
		{"port without protocol", func(c *Config) { c.ExposedPorts = []string{"4040"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mutate(&cfg)
			if _, err := Build(testEntries(), cfg, epoch); !errors.Is(err, ErrBadConfig) {
				t.Fatalf("err = %v, want ErrBadConfig", err)
			}
		})
	}
	if _, err := Build([]Entry{File("x", 0o644, nil)}, testConfig(), epoch); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("bad entry: err = %v, want ErrBadEntry", err)
	}
}

// TestWriteDockerArchive writes the same image twice, checks that the two
// files are byte for byte the same, and reads the archive back with
// go-containerregistry's own docker-archive reader under every tag.
func TestWriteDockerArchive(t *testing.T) {
	dir := t.TempDir()
	tags := []string{"localhost/app:v1", "localhost/app:e2e"}
	var files [2][]byte
	for i := range files {
		p := filepath.Join(dir, "app.tar")
		if err := WriteDockerArchive(p, mustBuild(t, testEntries(), testConfig(), epoch), tags...); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = data
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("two archives of the same image differ")
	}
	want := digest(t, mustBuild(t, testEntries(), testConfig(), epoch))
	for _, tag := range tags {
		ref, err := name.NewTag(tag)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(filepath.Join(dir, "app.tar"), &ref)
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		if got := digest(t, img); got != want {
			t.Errorf("%s: read back as %s, built as %s", tag, got, want)
		}
	}
	checkLayoutInArchive(t, files[0], tags, want)
	leftovers, err := filepath.Glob(filepath.Join(dir, ".app.tar.*"))
	if err != nil || len(leftovers) != 0 {
		t.Errorf("temporary files left: %v %v", leftovers, err)
	}
}

// checkLayoutInArchive unpacks the archive and reads it as an OCI image
// layout, as containerd does: every tag names the built manifest.
func checkLayoutInArchive(t *testing.T, archive []byte, tags []string, want v1.Hash) {
	t.Helper()
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, hdr.Name)
		data, err := io.ReadAll(tr)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if err == nil {
			err = os.WriteFile(p, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, d := range m.Manifests {
		refs = append(refs, d.Annotations[refNameAnnotation])
		if d.Digest != want || d.Annotations[containerdNameAnnotation] != d.Annotations[refNameAnnotation] {
			t.Errorf("index entry %+v, want digest %s", d, want)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := img.ConfigFile(); err != nil {
			t.Errorf("%s: no config blob: %v", d.Digest, err)
		}
	}
	sorted := append([]string(nil), tags...)
	slices.Sort(sorted)
	if !slices.Equal(refs, sorted) {
		t.Errorf("index names %q, want %q", refs, sorted)
	}
}

func TestWriteDockerArchiveBadTag(t *testing.T) {
	img := mustBuild(t, testEntries(), testConfig(), epoch)
	for _, tags := range [][]string{nil, {"localhost/app"}, {"Local Host/app:x"}, {"localhost/app:bad+tag"}} {
		p := filepath.Join(t.TempDir(), "app.tar")
		if err := WriteDockerArchive(p, img, tags...); !errors.Is(err, ErrBadTag) {
			t.Errorf("tags %q: err = %v, want ErrBadTag", tags, err)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("tags %q: the archive was written", tags)
		}
	}
}

func TestWriteOCILayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	a := mustBuild(t, testEntries(), testConfig(), epoch)
	b := mustBuild(t, testEntries(), testConfig(), epoch.Add(time.Hour))
	if err := WriteOCILayout(dir, []Tagged{{a, []string{"localhost/a:e2e", "localhost/a:v1"}}, {b, []string{"localhost/b:e2e"}}}); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ref    string
		digest v1.Hash
	}{{"localhost/a:e2e", digest(t, a)}, {"localhost/a:v1", digest(t, a)}, {"localhost/b:e2e", digest(t, b)}}
	if len(m.Manifests) != len(want) {
		t.Fatalf("index has %d manifests, want %d", len(m.Manifests), len(want))
	}
	for i, w := range want {
		got := m.Manifests[i]
		if got.Annotations[refNameAnnotation] != w.ref || got.Digest != w.digest {
			t.Errorf("manifest %d = %s %s, want %s %s", i, got.Annotations[refNameAnnotation], got.Digest, w.ref, w.digest)
		}
	}
}
