package main

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/ocibuild"
	"github.com/baton-dev/baton/internal/redistest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// busyboxBinary returns Debian's static busybox, skipping the test (or
// failing it under CI=true) when it is missing.
func busyboxBinary(t *testing.T) string {
	t.Helper()
	const p = "/bin/busybox"
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v under CI=true (make image installs busybox-static)", err)
		}
		t.Skipf("%v (make image installs busybox-static)", err)
	}
	return p
}

// testInputs stands small fake programs in for the Go binaries, so that
// the test assembles every image in well under a second; the Debian
// binaries are this machine's.
func testInputs(t *testing.T) inputs {
	t.Helper()
	return inputs{
		version: "v1.2.3-4-gabc", revision: "abc", source: "https://github.com/baton-dev/baton",
		created: time.Unix(1780000000, 0).UTC(), arch: "amd64",
		caBundle: []byte("-----BEGIN CERTIFICATE-----\n"),
		binaries: map[string][]byte{
			"baton": []byte("baton"), "batchjob": []byte("batchjob"), "pause": []byte("pause"), "shop": []byte("shop"),
		},
		redisServer: redistest.Binary(t),
		busybox:     busyboxBinary(t),
	}
}

type built struct {
	file   string
	tags   []string
	digest v1.Hash
	config *v1.ConfigFile
}

func buildAll(t *testing.T, in inputs) []built {
	t.Helper()
	specs, err := in.specs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []built
	for _, s := range specs {
		img, err := ocibuild.Build(s.entries, s.config, in.created)
		if err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, built{s.file, s.tags, d, cf})
	}
	return out
}

// TestImagesReproducible assembles every image twice from the same inputs
// and compares the digests; a changed input must change its image's. A
// small dynamic binary stands in for redis-server, which takes its libraries
// the same way: gzip of redis's 17 MB under -race would take most of the
// package's time.
func TestImagesReproducible(t *testing.T) {
	in := testInputs(t)
	small, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sharedLibs(context.Background(), small); err != nil {
		t.Skipf("%s is not a dynamic binary: %v", small, err)
	}
	in.redisServer = small
	first, second := buildAll(t, in), buildAll(t, in)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("two builds differ:\n%+v\n%+v", first, second)
	}
	in.binaries = map[string][]byte{"baton": []byte("baton 2"), "batchjob": []byte("batchjob")}
	for i, s := range []spec{in.batonImage(), in.goImage("batchjob", "localhost/batchjob:e2e")} {
		img, err := ocibuild.Build(s.entries, s.config, in.created)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if changed := i == 0; (d != first[i].digest) != changed {
			t.Errorf("%s after a change of baton's binary: %s, before %s", s.file, d, first[i].digest)
		}
	}
}

// TestImages checks the names, tags and configs the real-cluster tests and
// the chart rely on.
func TestImages(t *testing.T) {
	specs, err := testInputs(t).specs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var images []built
	for _, s := range specs {
		cf := &v1.ConfigFile{OS: s.config.OS, Architecture: s.config.Architecture, Config: v1.Config{
			Entrypoint: s.config.Entrypoint, Cmd: s.config.Cmd, User: s.config.User, Labels: s.config.Labels,
		}}
		images = append(images, built{file: s.file, tags: s.tags, config: cf})
	}
	want := []struct {
		file       string
		tags       []string
		entrypoint []string
		cmd        []string
		user       string
	}{
		{"baton.tar", []string{"localhost/baton:v1.2.3-4-gabc", "localhost/baton:e2e"}, []string{"/baton"}, nil, "65532:65532"},
		{"batchjob.tar", []string{"localhost/batchjob:e2e"}, []string{"/batchjob"}, nil, "65532:65532"},
		{"pause.tar", []string{"localhost/pause:e2e"}, []string{"/pause"}, nil, "65535:65535"},
		{"redis.tar", []string{"localhost/redis:e2e"}, []string{"/usr/bin/redis-server", "--protected-mode", "no"}, nil, "999:999"},
		{"busybox.tar", []string{"localhost/busybox:e2e"}, nil, []string{"sh"}, "65532:65532"},
		{"shop.tar", []string{"localhost/shop:e2e"}, []string{"/shop"}, nil, "65532:65532"},
	}
	if len(images) != len(want) {
		t.Fatalf("%d images, want %d", len(images), len(want))
	}
	for i, w := range want {
		got := images[i]
		c := got.config.Config
		if got.file != w.file || !slices.Equal(got.tags, w.tags) || !slices.Equal(c.Entrypoint, w.entrypoint) || !slices.Equal(c.Cmd, w.cmd) || c.User != w.user {
			t.Errorf("image %d = %s %q entrypoint %q cmd %q user %q, want %+v", i, got.file, got.tags, c.Entrypoint, c.Cmd, c.User, w)
		}
		if got.config.OS != "linux" || got.config.Architecture != "amd64" {
			t.Errorf("%s: %s/%s", got.file, got.config.OS, got.config.Architecture)
		}
	}
	labels := images[0].config.Config.Labels
	if labels[labelSource] != "https://github.com/baton-dev/baton" || labels[labelRevision] != "abc" || labels[labelVersion] != "v1.2.3-4-gabc" {
		t.Errorf("baton's labels %v", labels)
	}
}

func TestTagSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"v1.2.3", "v1.2.3"},
		{"9f726e6-dirty", "9f726e6-dirty"},
		{"v1.0.0+build.1", "v1.0.0-build.1"},
		{"-x", "v-x"},
		{"", "v"},
		{string(make([]byte, 200)), "v" + string(slices.Repeat([]byte("-"), 127))},
	} {
		if got := tagSafe(tc.in); got != tc.want {
			t.Errorf("tagSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseLDD(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n" +
		"\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
	got, err := parseLDD(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if !slices.Equal(got, want) {
		t.Errorf("parseLDD = %q, want %q", got, want)
	}
	for _, bad := range []string{"\tlibfoo.so.1 => not found\n", "\tnot a dynamic executable\n", "", "\tlibx.so => relative (0x1)\n"} {
		if _, err := parseLDD(bad); err == nil {
			t.Errorf("parseLDD(%q): no error", bad)
		}
	}
	if _, err := exec.LookPath("ldd"); err == nil {
		libs, err := sharedLibs(context.Background(), redistest.Binary(t))
		hasLibc := slices.ContainsFunc(libs, func(l string) bool { return strings.HasSuffix(l, "/libc.so.6") })
		hasLoader := slices.ContainsFunc(libs, func(l string) bool { return strings.Contains(l, "/ld-linux") })
		if err != nil || !hasLibc || !hasLoader {
			t.Errorf("sharedLibs(redis-server) = %q, %v", libs, err)
		}
	}
}
