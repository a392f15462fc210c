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

// TestSlowRenewalKeepsTheTerm: a renewal may use the time left before the
// term's deadline, so a round trip just below RenewDeadline-RenewInterval
// costs no term, whatever RetryPeriod is. (It used to be cut at
// 2*RetryPeriod: at a 600ms round trip and a 3s TTL the leader lost its
// term at every renewal.)
func TestSlowRenewalKeepsTheTerm(t *testing.T) {
	tests := []struct {
		name            string
		interval, retry time.Duration
		deadline        time.Duration
	}{
		{"defaults", 0, 0, 0},
		{"short interval", time.Second, 0, 9 * time.Second},
		{"short retry period", 0, 10 * time.Millisecond, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) {
				c.RenewInterval, c.RenewDeadline, c.RetryPeriod = tc.interval, tc.deadline, tc.retry
			})
			cfg := h.e.Config()
			rtt := cfg.RenewDeadline - cfg.RenewInterval - time.Millisecond
			h.grant(1)
			recv(t, h.started, "OnStartedLeading")
			waitWaiters(t, h.clock.FakeClock, 2)
			before := time.Now()
			h.clock.Step(cfg.RenewInterval)
			slow := recv(t, h.locker.renews, "renew")
			dl, ok := slow.ctx.Deadline()
			if left := cfg.RenewDeadline - cfg.RenewInterval; !ok || dl.Sub(before) < left || time.Until(dl) > left {
				t.Fatalf("renew attempt bounded at %v from its send (deadline set: %v), want the %v left of the term",
					dl.Sub(before), ok, left)
			}
			// The reply takes rtt. Past the stall bound a quick attempt
			// goes out beside it, which stalls: the slow one still counts.
			waitWaiters(t, h.clock.FakeClock, 2)
			h.clock.Step(2 * cfg.RetryPeriod)
			quick := recv(t, h.locker.renews, "a quick attempt beside the slow one")
			h.clock.Step(rtt - 2*cfg.RetryPeriod)
			if slow.ctx.Err() != nil {
				t.Fatalf("the slow attempt was cut after %v on the elector's clock: %v", rtt, slow.ctx.Err())
			}
			slow.reply <- nil
			s := waitFor(t, h.e, "renewed", func(s Status) bool { return s.Remaining == cfg.RenewDeadline-rtt })
			if !s.Leader || s.Fence != 1 {
				t.Fatalf("status %+v after a renewal of %v", s, rtt)
			}
			recv(t, quick.ctx.Done(), "the quick attempt cancelled once the renewal succeeded")
			none(t, h.stopped, "step-down")
		})
	}
}

// TestStalledRenewalIsRetriedBesideIt: a renewal stalled on its connection
// keeps running until the term's deadline, while quick attempts bounded by
// 2*RetryPeriod go out beside it; one that succeeds renews the term.
func TestStalledRenewalIsRetriedBesideIt(t *testing.T) {
	const retry = 50 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.RetryPeriod = retry })
	h.grant(1)
	recv(t, h.started, "OnStartedLeading")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	stalled := recv(t, h.locker.renews, "renew")
	waitWaiters(t, h.clock.FakeClock, 2) // the stall bound
	h.clock.Step(2 * retry)
	quick := recv(t, h.locker.renews, "a quick attempt beside the stalled one")
	before := time.Now()
	dl, ok := quick.ctx.Deadline()
	if !ok || dl.Sub(before) > 2*retry {
		t.Fatalf("quick attempt deadline in %v (set %v), want at most %v", dl.Sub(before), ok, 2*retry)
	}
	<-quick.ctx.Done() // the quick attempt gives up on its own
	waitFor(t, h.e, "the timeout recorded", func(s Status) bool { return s.LastError != "" })
	waitWaiters(t, h.clock.FakeClock, 2) // the retry is scheduled
	h.clock.Step(retry)
	next := recv(t, h.locker.renews, "the retry")
	if stalled.ctx.Err() != nil {
		t.Fatalf("the stalled attempt was cut before the term's deadline: %v", stalled.ctx.Err())
	}
	next.reply <- nil
	waitFor(t, h.e, "renewed", func(s Status) bool { return s.LastError == "" })
	if !h.e.IsLeader() {
		t.Error("one stalled attempt ended the term")
	}
	recv(t, stalled.ctx.Done(), "the stalled attempt cancelled once the renewal succeeded")
	// Its late answer is ignored: the next renewal goes out on schedule.
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	recv(t, h.locker.renews, "the next renewal").reply <- nil
	none(t, h.stopped, "step-down")
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
