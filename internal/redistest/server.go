// Package redistest starts real redis-server processes for tests.
//
// Each server listens on a free loopback port (never 6379) with its working
// directory in t.TempDir, runs without persistence, and is stopped by
// t.Cleanup. When redis-server is missing the test is skipped, except under
// CI=true, where a missing server is a failure: CI must never pass by testing
// nothing.
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
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 10 * time.Second

// Server is one redis-server process owned by a test.
type Server struct {
	t    testing.TB
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

// Binary returns the path of redis-server, skipping the test (or failing it
// under CI=true) when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: redis-server not found in PATH under CI=true: %v", err)
		}
		t.Skipf("redistest: redis-server not found (run `make test`, which installs it): %v", err)
	}
	return bin
}

// Start starts a redis-server with the given extra configuration directives,
// each as "name value" (for example "requirepass secret").
func Start(t testing.TB, directives ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir(), args: directives}
	s.start(FreePort(t))
	t.Cleanup(s.Stop)
	return s
}

// FreePort returns a loopback TCP port that was free a moment ago. It never
// returns 6379, so a developer's own Redis is never touched.
func FreePort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: find free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 6379 {
			return port
		}
	}
}

func (s *Server) start(port int) {
	s.t.Helper()
	portArgs := []string{"--port", strconv.Itoa(port)}
	if s.tls != nil {
		portArgs = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}
	args := []string{
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--loglevel", "warning",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	args = append(portArgs, args...)
	for _, d := range s.args {
		name, value, _ := strings.Cut(d, " ")
		args = append(args, "--"+name)
		if value != "" {
			args = append(args, strings.Fields(value)...)
		}
	}
	cmd := exec.Command(s.bin, args...)
	// A process group of its own, so SIGSTOP/SIGCONT and kill reach it alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	s.mu.Lock()
	s.port, s.cmd, s.done = port, cmd, done
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, TLSConfig: s.tls})
		err := c.Ping(ctx).Err()
		_ = c.Close()
		if err == nil || strings.Contains(err.Error(), "NOAUTH") || strings.Contains(err.Error(), "WRONGPASS") {
			return
		}
		select {
		case <-done:
			s.t.Fatalf("redistest: redis-server exited at start: %s", s.Log())
		case <-ctx.Done():
			s.t.Fatalf("redistest: redis-server on %s not ready after %v: %v", s.Addr(), startTimeout, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Addr is host:port of the server.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Port is the server's TCP port.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// PID is the server's process id.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Client returns a client for the server, closed at test cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), TLSConfig: s.tls})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill stops the server with SIGKILL and waits for it to exit. Data is lost,
// as the server runs without persistence.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process must be able to die
	_ = cmd.Process.Kill()
	<-done
}

// Stop kills the server; it is safe to call more than once.
func (s *Server) Stop() { s.Kill() }

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start(s.Port())
}

// Signal sends sig to the server process (SIGSTOP and SIGCONT pause it).
func (s *Server) Signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("redistest: server not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Log returns the server's log file, for failure messages.
func (s *Server) Log() string {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
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
