package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/baton-dev/baton/internal/ocibuild"
)

var errUsage = errors.New("image: usage")

// goProgram is a static Go program of an image, as built into it.
type goProgram struct{ name, pkg, ldflags string }

// goPrograms returns the Go programs of the images: baton with its
// stamped flags, batchjob as `make build` builds it (-trimpath, no stamp),
// the sandbox's pause, and shop when examples/shop exists.
func goPrograms(batonLDFlags string, withShop bool) []goProgram {
	programs := []goProgram{
		{"baton", "./cmd/sidecar", batonLDFlags},
		{"batchjob", "./examples/batchjob", ""},
		{"pause", "./hack/image/pause", "-s -w"},
	}
	if withShop {
		programs = append(programs, goProgram{"shop", "./examples/shop", ""})
	}
	return programs
}

type options struct {
	out, goTool, ldflags           string
	version, revision, source      string
	epoch                          string
	caBundle, redisServer, busybox string
	arch                           string
	oci                            bool
}

func parseFlags(args []string, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "bin/images", "directory of the tarballs")
	fs.StringVar(&o.goTool, "go", "go", "the go command")
	fs.StringVar(&o.version, "version", "dev", "baton's version: its tag and label, and main.version")
	fs.StringVar(&o.revision, "revision", "unknown", "the commit: the label, and main.revision")
	fs.StringVar(&o.ldflags, "ldflags", "", "baton's linker flags (default: \"-s -w -X main.version=VERSION -X main.revision=REVISION\", as the Makefile's LDFLAGS)")
	fs.StringVar(&o.source, "source", "https://github.com/baton-dev/baton", "the org.opencontainers.image.source label")
	fs.StringVar(&o.epoch, "source-date-epoch", getenv("SOURCE_DATE_EPOCH"), "every timestamp, in Unix seconds (default $SOURCE_DATE_EPOCH; required)")
	fs.StringVar(&o.caBundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle copied into the images")
	fs.StringVar(&o.redisServer, "redis-server", "/usr/bin/redis-server", "the redis-server of the redis image (Debian's redis-server package)")
	fs.StringVar(&o.busybox, "busybox", "/bin/busybox", "the static busybox of the busybox image (Debian's busybox-static package)")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "GOARCH of the images; the Debian binaries must match it")
	fs.BoolVar(&o.oci, "oci", true, "also write OUT/oci, an OCI image layout of all images")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if o.ldflags == "" {
		o.ldflags = batonLDFlags(o.version, o.revision)
	}
	return o, nil
}

func parseEpoch(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: -source-date-epoch or SOURCE_DATE_EPOCH is required (git log -1 --format=%%ct)", errUsage)
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("%w: source date epoch %q is not Unix seconds", errUsage, s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Getenv)
	if err == nil {
		err = run(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run gathers the inputs, writes every image and prints a line for each.
func run(ctx context.Context, o options, stdout io.Writer) error {
	start := time.Now()
	in, err := gather(ctx, o)
	if err != nil {
		return err
	}
	specs, err := in.specs(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var tagged []ocibuild.Tagged
	for _, s := range specs {
		res, err := write(o.out, s, in.created)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res)
		tagged = append(tagged, ocibuild.Tagged{Image: res.image, Tags: s.tags})
	}
	if o.oci {
		if err := ocibuild.WriteOCILayout(filepath.Join(o.out, "oci"), tagged); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d images in %s, built in %.1fs\n", len(specs), o.out, time.Since(start).Seconds())
	return nil
}

// gather builds the Go programs and reads the files of the images.
func gather(ctx context.Context, o options) (inputs, error) {
	created, err := parseEpoch(o.epoch)
	if err != nil {
		return inputs{}, err
	}
	ca, err := os.ReadFile(o.caBundle)
	if err != nil {
		return inputs{}, fmt.Errorf("CA bundle (Debian: apt-get install ca-certificates): %w", err)
	}
	in := inputs{
		version: o.version, revision: o.revision, source: o.source, created: created, arch: o.arch,
		caBundle: ca, binaries: map[string][]byte{}, redisServer: o.redisServer, busybox: o.busybox,
	}
	dir, err := os.MkdirTemp("", "baton-image-")
	if err != nil {
		return inputs{}, err
	}
	defer os.RemoveAll(dir)
	_, err = os.Stat("examples/shop/main.go")
	programs := goPrograms(o.ldflags, err == nil)
	for _, p := range programs {
		bin, err := goBuild(ctx, o.goTool, filepath.Join(dir, p.name), p.pkg, p.ldflags, o.arch)
		if err != nil {
			return inputs{}, err
		}
		in.binaries[p.name] = bin
	}
	return in, nil
}
