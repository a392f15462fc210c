package redistest

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server owned by a test: it lives in t.TempDir, failures
// fail the test, and t.Cleanup stops it and closes its clients.
type Server struct {
	*Process
	t testing.TB
}

// Binary returns the path of redis-server, skipping the test (or failing it
// under CI=true) when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := lookPath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v under CI=true", err)
		}
		t.Skipf("%v (run `make test`, which installs it)", err)
	}
	return bin
}

// Start starts a redis-server with the given extra configuration directives,
// each as "name value" (for example "requirepass secret").
func Start(t testing.TB, directives ...string) *Server {
	t.Helper()
	return startTest(t, &Process{bin: Binary(t), dir: t.TempDir(), args: directives})
}

func startTest(t testing.TB, p *Process) *Server {
	t.Helper()
	if err := p.start(context.Background(), FreePort(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &Server{Process: p, t: t}
}

// FreePort returns a loopback TCP port that was free a moment ago, never
// 6379, and fails the test when there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago, never 6379: each is held open until all are chosen, so two calls of
// FreePort cannot return the same port.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: find free ports: %v", err)
		}
		defer l.Close()
		if port := l.Addr().(*net.TCPAddr).Port; port != 6379 {
			ports = append(ports, port)
		}
	}
	return ports
}

// Restart starts the server again on the same port, empty, and fails the
// test if it does not come up.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.Process.Restart(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

// Client returns a client for the server, closed at test cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), TLSConfig: s.tls})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}
