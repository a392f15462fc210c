//go:build unix

package redistest

import (
	"errors"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestLaunch starts a server without binding it to the test, as the demo
// and the bench do, and stops it.
func TestLaunch(t *testing.T) {
	Binary(t)
	p, err := Launch(t.Context(), t.TempDir(), "maxmemory 10mb")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if p.Port() == 6379 || p.PID() == 0 {
		t.Fatalf("port %d, pid %d", p.Port(), p.PID())
	}
	c := redis.NewClient(&redis.Options{Addr: p.Addr()})
	defer c.Close()
	got, err := c.ConfigGet(t.Context(), "maxmemory").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["maxmemory"] != "10485760" {
		t.Errorf("maxmemory = %q; the directive was not passed", got["maxmemory"])
	}
	p.Stop()
	p.Stop() // twice is fine
	if p.PID() != 0 {
		t.Errorf("PID after Stop = %d, want 0", p.PID())
	}
	if err := p.Signal(syscall.SIGCONT); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Signal after Stop: %v, want ErrNotRunning", err)
	}
	if err := c.Ping(t.Context()).Err(); err == nil {
		t.Error("the server still answers after Stop")
	}
}

func TestLaunchErrors(t *testing.T) {
	Binary(t)
	if _, err := Launch(t.Context(), ""); err == nil {
		t.Error("Launch without a directory: no error")
	}
	p, err := Launch(t.Context(), t.TempDir(), "no-such-directive 1")
	if err == nil {
		p.Stop()
		t.Fatal("Launch with a bad directive: no error")
	}
}

// TestRestart comes back on the same port, empty.
func TestRestart(t *testing.T) {
	s := Start(t)
	c := s.Client()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	port, pid := s.Port(), s.PID()
	s.Restart()
	if s.Port() != port || s.PID() == pid {
		t.Errorf("after Restart: port %d (was %d), pid %d (was %d)", s.Port(), port, s.PID(), pid)
	}
	if n, err := c.Exists(t.Context(), "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after Restart = %d, %v; want 0", n, err)
	}
}

// TestKnownStore leaves the term record a release leaves.
func TestKnownStore(t *testing.T) {
	c := Start(t).Client()
	KnownStore(t, c, "baton:{job}:term")
	got, err := c.HGetAll(t.Context(), "baton:{job}:term").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["fence"] != "1" || got["valid_until_us"] != "0" {
		t.Errorf("term record = %v, want fence 1, valid_until_us 0", got)
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	seen := map[int]bool{}
	for _, p := range FreePorts(t, 50) {
		if seen[p] || p == 6379 || p <= 0 {
			t.Fatalf("port %d given twice, or invalid", p)
		}
		seen[p] = true
	}
}
