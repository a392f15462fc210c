package sidecartest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
)

// binPath is the sidecar that TestMain builds.
var binPath string

func TestMain(m *testing.M) {
	bin, cleanup, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// TestHandover runs two sidecars: one leads with a fence, a release hands
// the lock to the other, and the status bodies say so.
func TestHandover(t *testing.T) {
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	var cars []*Sidecar
	for _, id := range []string{"a", "b"} {
		s, err := Launch(binPath, dir, id, srv.Addr(), "sidecartest", "--lease-ttl", "2s")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(5 * time.Second) })
		if err := s.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		cars = append(cars, s)
	}
	leader, st, _, err := FirstLeader(ctx, cars)
	if err != nil {
		t.Fatal(err)
	}
	if st.Identity != leader.Identity || st.Holder != leader.Identity || st.Fence == 0 || st.Lock != "sidecartest" {
		t.Fatalf("leader's status %+v", st)
	}
	follower := cars[0]
	if follower == leader {
		follower = cars[1]
	}
	if fs, err := follower.Leader(ctx, 0); err != nil || fs.Leader {
		t.Fatalf("follower's status %+v, %v; want a follower", fs, err)
	}
	if err := leader.Release(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	next, err := follower.Leader(ctx, 10*time.Second)
	if err != nil || !next.Leader || next.Fence <= st.Fence {
		t.Fatalf("after release: %+v, %v; want the follower to lead with a fence above %d", next, err, st.Fence)
	}
	leader.Stop(5 * time.Second)
	select {
	case <-leader.Exited():
	default:
		t.Error("Exited not closed after Stop")
	}
	if b, err := os.ReadFile(leader.LogPath); err != nil || len(b) == 0 {
		t.Errorf("log %s: %d bytes, %v", leader.LogPath, len(b), err)
	}
}

func TestLaunchErrors(t *testing.T) {
	if _, err := Launch(binPath, t.TempDir(), "", "127.0.0.1:1", "l"); err == nil {
		t.Error("Launch without an identity: no error")
	}
	if _, err := Launch(filepath.Join(t.TempDir(), "missing"), t.TempDir(), "x", "127.0.0.1:1", "l"); err == nil {
		t.Error("Launch of a missing binary: no error")
	}
}

// TestWaitReadyReportsExit: a sidecar that exits at start-up (a bad flag)
// is reported with its log, not waited for.
func TestWaitReadyReportsExit(t *testing.T) {
	s, err := Launch(binPath, t.TempDir(), "bad", "127.0.0.1:1", "l", "--lease-ttl", "nonsense")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("WaitReady = %v (ctx %v); want the exit reported", err, ctx.Err())
	}
}
