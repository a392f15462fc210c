package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/baton-dev/baton/internal/ocibuild"
)

// spec is one image to write: its file under the output directory, its
// tags, its files and its config.
type spec struct {
	file    string
	tags    []string
	entries []ocibuild.Entry
	config  ocibuild.Config
}

// inputs is everything the images are made of, gathered before any image
// is assembled, so that assembling is a pure function of them.
type inputs struct {
	version, revision, source string
	created                   time.Time
	arch                      string
	caBundle                  []byte
	// binaries holds the static Go programs by name: baton, batchjob,
	// pause and, when examples/shop exists, shop.
	binaries map[string][]byte
	// redisServer and busybox are paths of this machine's Debian binaries.
	redisServer, busybox string
}

// e2eTag is the tag the real-cluster tests use for every image.
const e2eTag = "e2e"

// The OCI labels of each image.
const (
	labelSource   = "org.opencontainers.image.source"
	labelRevision = "org.opencontainers.image.revision"
	labelVersion  = "org.opencontainers.image.version"
)

func (in inputs) labels() map[string]string {
	return map[string]string{labelSource: in.source, labelRevision: in.revision, labelVersion: in.version}
}

func (in inputs) config(entrypoint ...string) ocibuild.Config {
	return ocibuild.Config{
		Entrypoint:   entrypoint,
		Env:          staticEnv,
		User:         nonrootUser,
		WorkingDir:   "/home/nonroot",
		Labels:       in.labels(),
		OS:           "linux",
		Architecture: in.arch,
		CreatedBy:    "hack/image",
	}
}

// goImage is a static Go program on staticBase, as the Dockerfile's
// distroless base gives it.
func (in inputs) goImage(name string, tags ...string) spec {
	cfg := in.config("/" + name)
	return spec{
		file:    name + ".tar",
		tags:    tags,
		entries: append(staticBase(in.caBundle), ocibuild.File("/"+name, 0o755, in.binaries[name])),
		config:  cfg,
	}
}

// batonImage matches the Dockerfile: /baton as entrypoint, user 65532,
// the two ports, and the OCI labels.
func (in inputs) batonImage() spec {
	s := in.goImage("baton", "localhost/baton:"+tagSafe(in.version), "localhost/baton:"+e2eTag)
	s.config.ExposedPorts = []string{"4040/tcp", "8081/tcp"}
	return s
}

// pauseImage is the pod sandbox: only the program, as the upstream pause
// image, with its user 65535.
func (in inputs) pauseImage() spec {
	return spec{
		file:    "pause.tar",
		tags:    []string{"localhost/pause:" + e2eTag},
		entries: []ocibuild.Entry{ocibuild.File("/pause", 0o755, in.binaries["pause"])},
		config: ocibuild.Config{
			Entrypoint: []string{"/pause"}, User: "65535:65535", Labels: in.labels(),
			OS: "linux", Architecture: in.arch, CreatedBy: "hack/image",
		},
	}
}

// redisImage is Debian's redis-server with its libraries and loader, for
// the chart's bundled Redis (redis.enabled=true). The chart gives only
// options as args (--save "" --appendonly no) and runs it as 999 with
// /data mounted, so the entrypoint is the server itself. Debian's build
// keeps protected mode on, which refuses every client from another pod when
// there is no password; the official image turns it off at build time, so
// this entrypoint turns it off by flag. The cost: no config file can be
// passed as args (redis reads one only as its first argument).
func (in inputs) redisImage(ctx context.Context) (spec, error) {
	server, err := os.ReadFile(in.redisServer)
	if err != nil {
		return spec{}, fmt.Errorf("redis image: %w", err)
	}
	entries := []ocibuild.Entry{
		ocibuild.File("/usr/bin/redis-server", 0o755, server),
		ocibuild.Dir("/data", 0o755).Owned(999, 999),
		ocibuild.Dir("/tmp", 0o777|os.ModeSticky),
	}
	libs, err := sharedLibs(ctx, in.redisServer)
	if err != nil {
		return spec{}, fmt.Errorf("redis image: %w", err)
	}
	for _, lib := range libs {
		data, err := os.ReadFile(lib)
		if err != nil {
			return spec{}, fmt.Errorf("redis image: %w", err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(path.Base(lib), "ld-") {
			mode = 0o755
		}
		entries = append(entries, ocibuild.File(lib, mode, data))
	}
	return spec{
		file:    "redis.tar",
		tags:    []string{"localhost/redis:" + e2eTag},
		entries: entries,
		config: ocibuild.Config{
			Entrypoint:   []string{"/usr/bin/redis-server", "--protected-mode", "no"},
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			User:         "999:999",
			WorkingDir:   "/data",
			ExposedPorts: []string{"6379/tcp"},
			Labels:       map[string]string{labelSource: in.source, labelRevision: in.revision},
			OS:           "linux", Architecture: in.arch, CreatedBy: "hack/image",
		},
	}, nil
}

// busyboxImage is Debian's static busybox with a symlink for every applet
// (sh, sleep, echo, date, cat, wget, ...) where `busybox --list-full` puts
// it, on staticBase, as user 65532: an unmodified shell script runs in it,
// also as exec mode's app container.
func (in inputs) busyboxImage(ctx context.Context) (spec, error) {
	bin, err := os.ReadFile(in.busybox)
	if err != nil {
		return spec{}, fmt.Errorf("busybox image: %w", err)
	}
	out, err := exec.CommandContext(ctx, in.busybox, "--list-full").Output()
	if err != nil {
		return spec{}, fmt.Errorf("busybox image: %s --list-full: %w", in.busybox, err)
	}
	entries := append(staticBase(in.caBundle), ocibuild.File("/bin/busybox", 0o755, bin))
	for _, applet := range strings.Fields(string(out)) {
		p := "/" + applet
		if p == "/bin/busybox" {
			continue
		}
		entries = append(entries, ocibuild.Symlink(p, "/bin/busybox"))
	}
	cfg := in.config()
	cfg.Cmd = []string{"sh"}
	return spec{file: "busybox.tar", tags: []string{"localhost/busybox:" + e2eTag}, entries: entries, config: cfg}, nil
}

// specs returns every image, in a fixed order.
func (in inputs) specs(ctx context.Context) ([]spec, error) {
	out := []spec{in.batonImage(), in.goImage("batchjob", "localhost/batchjob:"+e2eTag), in.pauseImage()}
	redis, err := in.redisImage(ctx)
	if err != nil {
		return nil, err
	}
	busybox, err := in.busyboxImage(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, redis, busybox)
	if _, ok := in.binaries["shop"]; ok {
		out = append(out, in.goImage("shop", "localhost/shop:"+e2eTag))
	}
	return out, nil
}

var notInTag = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// tagSafe turns a version such as git describe's into a valid tag:
// characters a tag cannot hold become '-', and at most 128 are kept.
func tagSafe(version string) string {
	t := notInTag.ReplaceAllString(version, "-")
	if t == "" || t[0] == '.' || t[0] == '-' {
		t = "v" + t
	}
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}
