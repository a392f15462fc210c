//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/ocibuild"
	"github.com/baton-dev/baton/internal/redistest"
)

// unpack extracts s's layer into a new directory, as a runtime would,
// with owners and modes. It reads the uncompressed layer, which is what
// the image's layer blob compresses, to keep gzip out of the test's time.
func unpack(t *testing.T, s spec, created time.Time) string {
	t.Helper()
	layer, err := ocibuild.LayerTar(s.entries, created)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return root
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(hdr.Linkname, p)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.Create(p); err == nil {
				_, err = io.Copy(f, tr)
				err = errors.Join(err, f.Close())
			}
		}
		if err == nil && hdr.Typeflag != tar.TypeSymlink {
			err = errors.Join(os.Chmod(p, hdr.FileInfo().Mode()), os.Lchown(p, hdr.Uid, hdr.Gid))
		}
		if err != nil {
			t.Fatalf("%s: %v", hdr.Name, err)
		}
	}
}

// inRoot returns a command that runs argv in root as uid:gid in dir, as
// the image's container would (chroot needs root).
func inRoot(ctx context.Context, t *testing.T, root, user, dir string, argv ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running an image's files needs root, for chroot")
	}
	uid, gid, _ := strings.Cut(user, ":")
	u, err1 := strconv.ParseUint(uid, 10, 32)
	g, err2 := strconv.ParseUint(gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("user %q: %v", user, err)
	}
	// exec would look argv[0] up on this machine: look it up in root.
	if !strings.Contains(argv[0], "/") {
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
			if _, err := os.Lstat(filepath.Join(root, d, argv[0])); err == nil {
				argv[0] = d + "/" + argv[0]
				break
			}
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uint32(u), Gid: uint32(g)},
		Setpgid:    true,
	}
	return cmd
}

// chartRedis reads what the chart's bundled Redis container is given.
func chartRedis(t *testing.T) (args []string, port, user string) {
	t.Helper()
	data, err := os.ReadFile("../../charts/baton/templates/redis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	field := func(re string) string {
		m := regexp.MustCompile(re).FindSubmatch(data)
		if m == nil {
			t.Fatalf("the chart's redis.yaml has no %s", re)
		}
		return string(m[1])
	}
	if err := json.Unmarshal([]byte(field(`(?m)^\s+args: (\[.*\])$`)), &args); err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s+command:`).Match(data) {
		t.Fatal("the chart's Redis sets a command; the image's entrypoint would not run")
	}
	return args, field(`containerPort: (\d+)`), field(`runAsUser: (\d+)`) + ":" + field(`runAsGroup: (\d+)`)
}

// TestRedisImageRunsTheChartsRedis unpacks the redis image and runs its
// entrypoint with the chart's args, as the chart's user, in /data: it must
// start with only the libraries the image carries, answer PING, and have
// protected mode off, which clients from other pods need.
func TestRedisImageRunsTheChartsRedis(t *testing.T) {
	in := testInputs(t)
	s, err := in.redisImage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	args, port, user := chartRedis(t)
	if user != s.config.User || port+"/tcp" != s.config.ExposedPorts[0] {
		t.Errorf("the chart runs Redis as %s on %s, the image is %s on %v", user, port, s.config.User, s.config.ExposedPorts)
	}
	root := unpack(t, s, in.created)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	free := redistest.FreePort(t)
	argv := append(append(append([]string{}, s.config.Entrypoint...), args...), "--port", strconv.Itoa(free), "--bind", "127.0.0.1")
	cmd := inRoot(ctx, t, root, s.config.User, s.config.WorkingDir, argv...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", free), MaxRetries: -1})
	defer c.Close()
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("no PING: %v\n%s", err, logs.String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	got, err := c.ConfigGet(ctx, "protected-mode").Result()
	if err != nil || got["protected-mode"] != "no" {
		t.Errorf("protected-mode = %v, %v; want no", got, err)
	}
	if got, err := c.ConfigGet(ctx, "save").Result(); err != nil || got["save"] != "" {
		t.Errorf("save = %v, %v; want the chart's empty save", got, err)
	}
}

// TestBusyboxImageRunsAShellScript runs an unmodified shell script with the
// image's applets, as its non-root user.
func TestBusyboxImageRunsAShellScript(t *testing.T) {
	in := testInputs(t)
	s, err := in.busyboxImage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := unpack(t, s, in.created)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// No /dev here: a runtime mounts it, chroot does not.
	script := `set -e; echo "job $(id -u) $(date -u +%Y)"; sleep 0; ` +
		`touch /tmp/x && ls /tmp; which wget; grep -c nonroot /etc/passwd; echo done`
	out, err := inRoot(ctx, t, root, s.config.User, "/", append(s.config.Cmd, "-c", script)...).CombinedOutput()
	want := fmt.Sprintf("job 65532 %d\nx\n/usr/bin/wget\n1\ndone\n", time.Now().UTC().Year())
	if err != nil || string(out) != want {
		t.Fatalf("sh -c: %v\n%q\nwant %q", err, out, want)
	}
}
