// Package redistest starts real redis-server processes: for tests (Start,
// StartTLS), and for the demo and the benchmarks (Launch), from one
// launcher.
//
// Each server listens on a free loopback port (never 6379) and runs without
// persistence, in a directory of its own. A Server from Start lives in
// t.TempDir and is stopped by t.Cleanup; when redis-server is missing the
// test is skipped, except under CI=true, where a missing server is a
// failure: CI must never pass by testing nothing. A Process from Launch
// belongs to its caller, who stops it.
//
// The separate bench module may import this package: Go's internal rule is
// about import paths, and github.com/baton-dev/baton/bench lies under
// github.com/baton-dev/baton.
package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 10 * time.Second

// ErrNoRedisServer means that there is no redis-server in PATH.
var ErrNoRedisServer = errors.New("redistest: redis-server not found in PATH")

// ErrNotRunning is returned by Signal after Kill or Stop.
var ErrNotRunning = errors.New("redistest: server not running")

// Process is one redis-server process. Its methods are safe for concurrent
// use.
type Process struct {
	bin  string
	dir  string
	args []string
	// tls, when set, makes the server listen for TLS only.
	tls *tls.Config

	mu   sync.Mutex
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Launch starts a redis-server outside any test, with its working
// directory and log (redis.log) in dir, which must exist, and the given
// extra configuration directives, each as "name value" (for example
// "requirepass secret"). It returns once the server answers PING, or fails
// after 10 s or when ctx ends. The caller must call Stop.
func Launch(ctx context.Context, dir string, directives ...string) (*Process, error) {
	if dir == "" {
		return nil, errors.New("redistest: Launch needs a directory")
	}
	bin, err := lookPath()
	if err != nil {
		return nil, err
	}
	port, err := FreeLoopbackPort()
	if err != nil {
		return nil, err
	}
	p := &Process{bin: bin, dir: dir, args: directives}
	if err := p.start(ctx, port); err != nil {
		return nil, err
	}
	return p, nil
}

func lookPath() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoRedisServer, err)
	}
	return bin, nil
}

// FreeLoopbackPort returns a loopback TCP port that was free a moment ago.
// It never returns 6379, so a developer's own Redis is never touched.
func FreeLoopbackPort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("redistest: find free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

// start runs the server on port and waits until it answers. On failure the
// process is gone.
func (p *Process) start(ctx context.Context, port int) error {
	portArgs := []string{"--port", strconv.Itoa(port)}
	if p.tls != nil {
		portArgs = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}
	args := []string{
		"--bind", "127.0.0.1",
		"--dir", p.dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--loglevel", "warning",
		"--logfile", filepath.Join(p.dir, "redis.log"),
	}
	args = append(portArgs, args...)
	for _, d := range p.args {
		name, value, _ := strings.Cut(d, " ")
		args = append(args, "--"+name)
		if value != "" {
			args = append(args, strings.Fields(value)...)
		}
	}
	cmd := exec.Command(p.bin, args...)
	cmd.SysProcAttr = ownProcessGroup()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	p.mu.Lock()
	p.port, p.cmd, p.done = port, cmd, done
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, TLSConfig: p.tls})
		err := c.Ping(ctx).Err()
		_ = c.Close()
		if err == nil || strings.Contains(err.Error(), "NOAUTH") || strings.Contains(err.Error(), "WRONGPASS") {
			return nil
		}
		select {
		case <-done:
			p.Kill()
			return fmt.Errorf("redistest: redis-server exited at start: %s", p.Log())
		case <-ctx.Done():
			p.Kill()
			return fmt.Errorf("redistest: redis-server on 127.0.0.1:%d not ready: %w (last ping: %w)", port, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Addr is host:port of the server.
func (p *Process) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port()))
}

// Port is the server's TCP port.
func (p *Process) Port() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.port
}

// PID is the server's process id, 0 once it is stopped.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill stops the server with SIGKILL and waits for it to exit. Data is lost,
// as the server runs without persistence. It is safe to call more than once.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	resume(cmd.Process) // a stopped process must be able to die
	_ = cmd.Process.Kill()
	<-done
}

// Stop kills the server; it is safe to call more than once.
func (p *Process) Stop() { p.Kill() }

// Restart kills the server and starts it again on the same port, empty.
func (p *Process) Restart(ctx context.Context) error {
	p.Kill()
	return p.start(ctx, p.Port())
}

// Signal sends sig to the server process (SIGSTOP and SIGCONT pause it).
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return ErrNotRunning
	}
	return p.cmd.Process.Signal(sig)
}

// Log returns the server's log file, for failure messages.
func (p *Process) Log() string {
	f, err := os.Open(filepath.Join(p.dir, "redis.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String()
}
