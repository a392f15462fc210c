//go:build unix

package election_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
)

const guard = 20 * time.Second

type candidate struct {
	e      *election.Elector
	cancel context.CancelFunc
	done   chan error
	stops  chan election.StepDownReason
}

func startCandidate(t *testing.T, c redislock.Client, id string, ttl time.Duration) *candidate {
	t.Helper()
	return startCandidateWith(t, c, id, election.Config{LeaseTTL: ttl, RetryPeriod: ttl / 12})
}

func startCandidateWith(t *testing.T, c redislock.Client, id string, cfg election.Config) *candidate {
	t.Helper()
	lock, err := redislock.New(c, "job", redislock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cd := &candidate{done: make(chan error, 1), stops: make(chan election.StepDownReason, 8)}
	cfg.Locker = redislock.NewLocker(lock)
	cfg.Name = "job"
	cfg.Identity = id
	cfg.OnStoppedLeading = func(_ election.Term, r election.StepDownReason) { cd.stops <- r }
	cd.e, err = election.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cd.cancel = cancel
	go func() { cd.done <- cd.e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-cd.done })
	return cd
}

func waitStatus(t *testing.T, e *election.Elector, what string, cond func(election.Status) bool) election.Status {
	t.Helper()
	deadline := time.After(guard)
	for {
		ch := e.Changed()
		if s := e.Status(); cond(s) {
			return s
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s: %+v", what, e.Status())
		}
	}
}

func isLeader(s election.Status) bool { return s.Leader }

func TestHandoverOnShutdown(t *testing.T) {
	srv := redistest.Start(t)
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term")
	a := startCandidate(t, srv.Client(), "a", time.Hour)
	sa := waitStatus(t, a.e, "a leads", isLeader)
	b := startCandidate(t, srv.Client(), "b", time.Hour)
	waitStatus(t, b.e, "b sees a", func(s election.Status) bool { return s.Holder == "a" })

	// With an hour-long TTL only the release message can hand over in time.
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatalf("a.Run = %v", err)
	}
	a.done <- nil
	sb := waitStatus(t, b.e, "b leads", isLeader)
	if sb.Fence <= sa.Fence {
		t.Errorf("fence %d after %d", sb.Fence, sa.Fence)
	}
	if r := <-a.stops; r != election.ReasonShutdown {
		t.Errorf("a stopped with %s", r)
	}
}

func TestResignHandsOver(t *testing.T) {
	srv := redistest.Start(t)
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term")
	a := startCandidate(t, srv.Client(), "a", time.Hour)
	waitStatus(t, a.e, "a leads", isLeader)
	b := startCandidate(t, srv.Client(), "b", time.Hour)
	waitStatus(t, b.e, "b sees a", func(s election.Status) bool { return s.Holder == "a" })
	released, err := a.e.Resign(t.Context(), time.Hour)
	if err != nil || !released {
		t.Fatalf("Resign = %v, %v", released, err)
	}
	waitStatus(t, b.e, "b leads", isLeader)
	if s := a.e.Status(); s.Leader || s.HoldOff <= 0 {
		t.Errorf("a after resign: %+v", s)
	}
}

// TestStepsDownBeforeTTLWhenRedisStops pauses Redis (SIGSTOP, then CLIENT
// PAUSE) and checks that the leader stops leading before its lease could
// have expired.
func TestStepsDownBeforeTTLWhenRedisStops(t *testing.T) {
	for _, mode := range []string{"sigstop", "client-pause"} {
		t.Run(mode, func(t *testing.T) {
			srv := redistest.Start(t)
			const ttl = 1500 * time.Millisecond
			c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: ttl, WriteTimeout: ttl})
			t.Cleanup(func() { _ = c.Close() })
			// Renewing every 250ms with a 1s deadline: the lease, last
			// extended at most 250ms before the pause, lives until at least
			// 1.25s after it, while the leader must be gone by 1s after it.
			a := startCandidateWith(t, c, "a", election.Config{
				LeaseTTL: ttl, RenewInterval: 250 * time.Millisecond, RenewDeadline: time.Second,
			})
			waitStatus(t, a.e, "a leads", isLeader)
			switch mode {
			case "sigstop":
				if err := srv.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = srv.Signal(syscall.SIGCONT) })
			case "client-pause":
				admin := srv.Client()
				if err := admin.Do(t.Context(), "CLIENT", "PAUSE", "5000", "ALL").Err(); err != nil {
					t.Fatal(err)
				}
			}
			paused := time.Now()
			waitStatus(t, a.e, "step-down", func(s election.Status) bool { return !s.Leader })
			// The lease was last extended no later than the pause, so it
			// lives until at least paused-RenewInterval+TTL.
			lower := paused.Add(-a.e.Config().RenewInterval).Add(ttl)
			if now := time.Now(); !now.Before(lower) {
				t.Errorf("stepped down at %v after the pause, after the lease could have expired", now.Sub(paused))
			}
			if r := <-a.stops; r != election.ReasonDeadline {
				t.Errorf("reason %s, want deadline", r)
			}
		})
	}
}

func TestForeignValueNeverLeads(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	const leaseKey = "baton:{job}:lease" // lock "job"'s lease key
	c.Set(t.Context(), leaseKey, "not baton's", 0)
	a := startCandidate(t, c, "a", time.Second)
	s := waitStatus(t, a.e, "error", func(s election.Status) bool { return s.LastError != "" })
	if s.Leader || !strings.Contains(s.LastError, "foreign") {
		t.Errorf("status = %+v", s)
	}
	if v := c.Get(t.Context(), leaseKey).Val(); v != "not baton's" {
		t.Errorf("foreign value changed to %q", v)
	}
	// Once an operator removes it, the candidate leads.
	c.Del(t.Context(), leaseKey)
	waitStatus(t, a.e, "a leads", isLeader)
}

func TestCrashedHolderIsReplacedAtTTL(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	lock, _ := redislock.New(c, "job", redislock.Options{})
	redistest.KnownStore(t, c, "baton:{job}:term")
	const ttl = 600 * time.Millisecond
	crashed, err := lock.TryAcquire(t.Context(), "crashed", ttl)
	if err != nil {
		t.Fatal(err)
	}
	b := startCandidate(t, c, "b", ttl)
	sb := waitStatus(t, b.e, "b leads", isLeader)
	if since := time.Since(crashed.SentAt()); since < ttl {
		t.Errorf("b leads %v after the crashed holder's acquire, within its TTL", since)
	}
	if sb.Fence <= crashed.Fence() {
		t.Errorf("fence %d after %d", sb.Fence, crashed.Fence())
	}
}
