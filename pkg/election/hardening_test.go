package election

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
)

// blockingWork is an OnStartedLeading that runs until the test lets it
// return, the way real work takes a while to stop.
type blockingWork struct {
	started chan context.Context
	release chan struct{}
	done    chan struct{}
}

func newBlockingWork() *blockingWork {
	return &blockingWork{started: make(chan context.Context, 4), release: make(chan struct{}), done: make(chan struct{}, 4)}
}

func (w *blockingWork) run(ctx context.Context, _ Term) {
	w.started <- ctx
	<-ctx.Done()
	<-w.release
	w.done <- struct{}{}
}

func TestDeadlineStepDownKeepsTheMarginForTheWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		// returnAfter is when, after the step-down, the work returns: a
		// zero means never, and the margin must run out instead.
		returnAfter time.Duration
	}{
		{"work returns within the margin", time.Second},
		{"margin runs out first", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newBlockingWork()
			h := newHarness(t, func(c *Config) { c.OnStartedLeading = w.run })
			defer close(w.release)
			h.grant(1)
			leaderCtx := recv(t, w.started, "work start")
			waitWaiters(t, h.clock.FakeClock, 2) // the term's timers are set
			// No renew ever succeeds: the term ends at the deadline.
			h.clock.Step(renewDeadline)
			<-leaderCtx.Done()
			waitFor(t, h.e, "step-down", func(s Status) bool { return !s.Leader })
			none(t, h.locker.releases, "release while the work still runs")
			if tc.returnAfter > 0 {
				h.clock.Step(tc.returnAfter)
				none(t, h.locker.releases, "release while the work still runs")
				w.release <- struct{}{}
				recv(t, w.done, "work return")
			} else {
				// The lease can expire at sent+TTL: wait for the timer.
				waitWaiters(t, h.clock.FakeClock, 1)
				h.clock.Step(ttl - renewDeadline - time.Millisecond)
				none(t, h.locker.releases, "release inside the margin")
				h.clock.Step(time.Millisecond)
			}
			if got := recv(t, h.locker.releases, "release"); got != 1 {
				t.Errorf("released fence %d, want 1", got)
			}
			if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonDeadline {
				t.Errorf("reason = %s", r)
			}
		})
	}
}

func TestNoSecondTermWhileThePreviousWorkRuns(t *testing.T) {
	w := newBlockingWork()
	h := newHarness(t, func(c *Config) { c.OnStartedLeading = w.run })
	h.grant(1)
	recv(t, w.started, "work start")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	recv(t, h.locker.renews, "renew").reply <- ErrLost
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonLost {
		t.Fatalf("reason = %s", r)
	}
	none(t, h.locker.acquires, "a campaign while the lost term's work runs")
	w.release <- struct{}{}
	recv(t, w.done, "work return")
	h.grant(2)
	recv(t, w.started, "second term's work")
	close(w.release)
}

func TestNextCampaignWaitsForTheWorkOnlyUpToItsBound(t *testing.T) {
	w := newBlockingWork()
	h := newHarness(t, func(c *Config) { c.OnStartedLeading = w.run; c.ReleaseTimeout = time.Second })
	defer close(w.release)
	h.grant(1)
	recv(t, w.started, "work start")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	recv(t, h.locker.renews, "renew").reply <- ErrLost
	recv(t, h.stopped, "OnStoppedLeading")
	// The bound is the later of ReleaseTimeout after the step-down and the
	// lease's expiry: sent (t=0) + TTL, that is TTL-RenewInterval from now.
	waitWaiters(t, h.clock.FakeClock, 1)
	h.clock.Step(ttl - renewInterval - time.Millisecond)
	none(t, h.locker.acquires, "a campaign before the bound")
	h.clock.Step(time.Millisecond)
	recv(t, h.locker.acquires, "a campaign at the bound")
}

func TestRenewAttemptsHaveTheirOwnTimeout(t *testing.T) {
	const retry = 50 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.RetryPeriod = retry })
	h.grant(1)
	recv(t, h.started, "OnStartedLeading")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	stalled := recv(t, h.locker.renews, "renew")
	dl, ok := stalled.ctx.Deadline()
	if !ok || time.Until(dl) > 2*retry {
		t.Fatalf("renew attempt deadline in %v (set %v), want at most %v: the remaining validity is %v",
			time.Until(dl), ok, 2*retry, renewDeadline-renewInterval)
	}
	<-stalled.ctx.Done() // the stalled attempt gives up on its own
	waitFor(t, h.e, "the timeout recorded", func(s Status) bool { return s.LastError != "" })
	waitWaiters(t, h.clock.FakeClock, 2) // the retry is scheduled
	h.clock.Step(retry)
	next := recv(t, h.locker.renews, "the retry")
	next.reply <- nil
	waitFor(t, h.e, "renewed", func(s Status) bool { return s.LastError == "" })
	if !h.e.IsLeader() {
		t.Error("one stalled attempt ended the term")
	}
}

func TestResignReplacesTheHoldOff(t *testing.T) {
	h := newHarness(t, nil)
	call := recv(t, h.locker.acquires, "acquire")
	if _, err := h.e.Resign(t.Context(), time.Hour); err != nil {
		t.Fatal(err)
	}
	<-call.ctx.Done()
	if s := h.e.Status(); s.HoldOff != time.Hour {
		t.Fatalf("hold-off %v, want 1h", s.HoldOff)
	}
	// A zero hold-off ends the running one, answers at once, and the
	// candidate campaigns without any time passing.
	if released, err := h.e.Resign(t.Context(), 0); err != nil || released {
		t.Fatalf("Resign(0) = %v, %v", released, err)
	}
	if s := h.e.Status(); s.HoldOff != 0 {
		t.Errorf("hold-off %v after Resign(0)", s.HoldOff)
	}
	recv(t, h.locker.acquires, "acquire right after the hold-off was replaced")
}

func TestResignRejectsBadHoldOffs(t *testing.T) {
	h := newHarness(t, nil)
	recv(t, h.locker.acquires, "acquire")
	for _, d := range []time.Duration{-time.Second, MaxHoldOff + time.Millisecond, 100000 * time.Hour} {
		if _, err := h.e.Resign(t.Context(), d); !errors.Is(err, ErrInvalidHoldOff) {
			t.Errorf("Resign(%v) = %v, want ErrInvalidHoldOff", d, err)
		}
	}
	if s := h.e.Status(); s.HoldOff != 0 {
		t.Errorf("a rejected resign set a hold-off of %v", s.HoldOff)
	}
}

func TestResignFromInsideTheWork(t *testing.T) {
	resigned := make(chan error, 1)
	var e *Elector // set before the first term starts
	h := newHarness(t, func(c *Config) {
		c.OnStartedLeading = func(ctx context.Context, _ Term) {
			// "Work finished, hand over": with the fake clock, a Resign
			// that waited for ReleaseTimeout would never return.
			_, err := e.Resign(ctx, 0)
			resigned <- err
		}
	})
	e = h.e
	// Granted by hand: the term may end before a wait for it could see it.
	call := recv(t, h.locker.acquires, "acquire")
	call.reply <- acquireReply{lease: &fakeLease{f: h.locker, fence: 1, sentAt: h.clock.Now()}}
	if err := recv(t, resigned, "Resign from OnStartedLeading"); err != nil {
		t.Errorf("Resign = %v", err)
	}
	if got := recv(t, h.locker.releases, "release"); got != 1 {
		t.Errorf("released %d", got)
	}
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonResigned {
		t.Errorf("reason %s", r)
	}
}

func TestResignFromTheLoopsCallbacks(t *testing.T) {
	for _, which := range []string{"OnNewLeader", "OnStoppedLeading"} {
		t.Run(which, func(t *testing.T) {
			errs := make(chan error, 4)
			var (
				once sync.Once
				e    *Elector // set before the first acquire is answered
			)
			resign := func() {
				once.Do(func() {
					_, err := e.Resign(context.Background(), time.Minute)
					errs <- err
				})
			}
			h := newHarness(t, func(c *Config) {
				if which == "OnNewLeader" {
					c.OnNewLeader = func(string) { resign() }
				} else {
					c.OnStoppedLeading = func(Term, StepDownReason) { resign() }
				}
			})
			e = h.e
			call := recv(t, h.locker.acquires, "acquire")
			call.reply <- acquireReply{lease: &fakeLease{f: h.locker, fence: 1, sentAt: h.clock.Now()}}
			if which == "OnStoppedLeading" {
				waitFor(t, h.e, "leadership", func(s Status) bool { return s.Leader })
				waitWaiters(t, h.clock.FakeClock, 2)
				h.clock.Step(renewInterval)
				recv(t, h.locker.renews, "renew").reply <- ErrLost
			}
			if err := recv(t, errs, "Resign from "+which); err != nil {
				t.Errorf("Resign = %v", err)
			}
			if which == "OnNewLeader" {
				// Resigned before the term began: the lease goes back and
				// no work starts.
				if got := recv(t, h.locker.releases, "release"); got != 1 {
					t.Errorf("released %d", got)
				}
				if s := h.e.Status(); s.Leader {
					t.Error("leads after resigning from OnNewLeader")
				}
			}
			waitFor(t, h.e, "hold-off", func(s Status) bool { return s.HoldOff > 0 })
		})
	}
}

func TestConcurrentRunsStartOnce(t *testing.T) {
	e, err := New(Config{Locker: newFakeLocker(), Name: "job", Identity: "me"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	results := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { results <- e.Run(ctx) })
	}
	// Seven return at once with ErrAlreadyRunning; the eighth runs.
	for range 7 {
		if err := recv(t, results, "a refused Run"); !errors.Is(err, ErrAlreadyRunning) {
			t.Errorf("Run = %v, want ErrAlreadyRunning", err)
		}
	}
	cancel()
	if err := recv(t, results, "the running Run"); err != nil {
		t.Errorf("Run = %v", err)
	}
	wg.Wait()
}

func TestDefaultClockCountsSuspendedTime(t *testing.T) {
	e, err := New(Config{Locker: newFakeLocker(), Name: "job", Identity: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Config().Clock.(clocks.Real); !ok {
		t.Errorf("default clock is %T, want clocks.Real (CLOCK_BOOTTIME on Linux)", e.Config().Clock)
	}
}

// TestSuspendedMachineStepsDownOnResume: a suspend advances the boot-time
// clock while no timer runs; on resume, the first timer to fire must end
// the term rather than renew it.
func TestSuspendedMachineStepsDownOnResume(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(1)
	recv(t, h.started, "OnStartedLeading")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.skew.Store(int64(ttl)) // suspended for a whole TTL
	if h.e.IsLeader() {
		t.Fatal("leader right after resume")
	}
	h.clock.Step(renewInterval) // the renew timer fires, late
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonDeadline {
		t.Errorf("reason %s", r)
	}
	none(t, h.locker.renews, "a renew sent after resuming past the deadline")
}
