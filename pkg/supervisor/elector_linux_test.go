package supervisor

import (
	"context"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
)

// newElector builds an elector on a real redis-server, with sup.Lead as its
// work, hands it to built, and runs it until the returned stop is called.
func newElector(t *testing.T, sup *Supervisor, mutate func(*election.Config), built func(*election.Elector)) (stop func()) {
	t.Helper()
	srv := redistest.Start(t)
	lock, err := redislock.New(srv.Client(), "job", redislock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A known store, as a release leaves it: an unknown one makes the first
	// term wait one TTL (redislock's TryAcquire).
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term")
	cfg := election.Config{
		Locker:           redislock.NewLocker(lock),
		Name:             "job",
		Identity:         "replica-1",
		OnStartedLeading: sup.Lead,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := election.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if built != nil {
		built(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- e.Run(ctx) }()
	stop = func() {
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(guard):
			t.Error("Run did not return")
		}
	}
	t.Cleanup(func() { sup.Kill(); cancel() })
	return stop
}

// TestElectorReleasesAfterTheChildIsDead: on shutdown the elector releases
// the lock (and then calls OnStoppedLeading) only once Lead has returned,
// which is once the child, which ignores SIGTERM, has been killed and
// reaped.
func TestElectorReleasesAfterTheChildIsDead(t *testing.T) {
	w, lines := output(t)
	sup := newTestSupervisor(t, `trap "" TERM; echo $BATON_FENCE; exec sleep 1000`, func(o *Options) {
		o.Stdout, o.KillGrace = w, 100*time.Millisecond
	})
	released := make(chan bool, 1)
	var pid atomic.Int64
	stop := newElector(t, sup, func(c *election.Config) {
		c.OnStoppedLeading = func(election.Term, election.StepDownReason) { released <- gone(int(pid.Load())) }
	}, nil)
	fence, err := strconv.ParseUint(recv(t, lines, "the child's fence"), 10, 64)
	if err != nil || fence == 0 {
		t.Fatalf("BATON_FENCE %d, %v", fence, err)
	}
	pid.Store(int64(sup.State().PID))
	stop()
	if !recv(t, released, "the step-down") {
		t.Error("the lock was released while the child still ran")
	}
	if last := sup.State().LastExit; last == nil || last.Signal != syscall.SIGKILL {
		t.Errorf("last exit %+v, want SIGKILL after the grace", last)
	}
}

// TestRecampaignThroughResign: under OnExitRecampaign, the wiring resigns
// from OnChildExit with the term's context, and the child runs again in the
// next term, under a larger fence.
func TestRecampaignThroughResign(t *testing.T) {
	w, lines := output(t)
	var e atomic.Pointer[election.Elector] // set before the first term can start
	sup := newTestSupervisor(t, `echo $BATON_FENCE`, func(o *Options) {
		o.Stdout, o.OnExit = w, OnExitRecampaign
		o.RestartBackoff, o.MaxRestartBackoff = time.Millisecond, 10*time.Millisecond
		o.OnChildExit = func(ctx context.Context, ex Exit) {
			if _, err := e.Load().Resign(ctx, ex.HoldOff); err != nil {
				t.Errorf("Resign: %v", err)
			}
		}
	})
	stop := newElector(t, sup, nil, func(el *election.Elector) { e.Store(el) })
	var last uint64
	for i := range 3 {
		fence, err := strconv.ParseUint(recv(t, lines, "a term's fence"), 10, 64)
		if err != nil || fence <= last {
			t.Fatalf("run %d: fence %d after %d (%v): want a larger one", i, fence, last, err)
		}
		last = fence
	}
	stop()
}
