package election

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/baton-dev/baton/pkg/field"
)

const (
	ttl           = 15 * time.Second
	renewInterval = 5 * time.Second
	renewDeadline = 10 * time.Second
)

type harness struct {
	t       *testing.T
	clock   *skewClock
	locker  *fakeLocker
	e       *Elector
	cancel  context.CancelFunc
	runDone chan error
	started chan context.Context
	stopped chan StepDownReason
	leaders chan string
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		clock:   &skewClock{FakeClock: testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))},
		locker:  newFakeLocker(),
		runDone: make(chan error, 1),
		started: make(chan context.Context, 4),
		stopped: make(chan StepDownReason, 4),
		leaders: make(chan string, 16),
	}
	cfg := Config{
		Locker:           h.locker,
		Name:             "job",
		Identity:         "me",
		LeaseTTL:         ttl,
		Clock:            h.clock,
		OnStartedLeading: func(ctx context.Context, _ Term) { h.started <- ctx },
		OnStoppedLeading: func(_ Term, r StepDownReason) { h.stopped <- r },
		OnNewLeader:      func(id string) { h.leaders <- id },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.e = e
	ctx, cancel := context.WithCancel(t.Context())
	h.cancel = cancel
	go func() { h.runDone <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.runDone:
		case <-time.After(guard):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// grant answers the next Acquire with a lease sent at the current time.
func (h *harness) grant(fence uint64) *fakeLease {
	h.t.Helper()
	call := recv(h.t, h.locker.acquires, "acquire")
	lease := &fakeLease{f: h.locker, fence: fence, sentAt: h.clock.Now()}
	call.reply <- acquireReply{lease: lease}
	waitFor(h.t, h.e, "leadership", func(s Status) bool { return s.Leader && s.Fence == fence })
	return lease
}

func TestBecomesLeaderAndRenews(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(7)
	leaderCtx := recv(t, h.started, "OnStartedLeading")
	if id := recv(t, h.leaders, "OnNewLeader"); id != "me" {
		t.Errorf("OnNewLeader(%q), want me", id)
	}
	s := h.e.Status()
	if s.Holder != "me" || s.Remaining != renewDeadline || s.TermStart.IsZero() {
		t.Errorf("status = %+v, want holder me, remaining %v", s, renewDeadline)
	}

	// Three renewal rounds: each extends validity to RenewDeadline after the
	// renew was sent, never beyond.
	for i := range 3 {
		waitWaiters(t, h.clock.FakeClock, 2)
		h.clock.Step(renewInterval)
		call := recv(t, h.locker.renews, "renew")
		h.clock.Step(100 * time.Millisecond) // the reply takes a while
		gen := h.e.Status().Generation
		call.reply <- nil
		s := waitFor(t, h.e, "renewed validity", func(s Status) bool { return s.Generation > gen })
		if want := renewDeadline - 100*time.Millisecond; s.Remaining != want {
			t.Fatalf("round %d: remaining = %v, want %v (counted from the send)", i, s.Remaining, want)
		}
		h.clock.Step(-100 * time.Millisecond) // keep rounds aligned
	}
	if leaderCtx.Err() != nil {
		t.Fatal("leader context cancelled while leading")
	}
}

func TestStepsDownAtRenewDeadline(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(1)
	leaderCtx := recv(t, h.started, "OnStartedLeading")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	call := recv(t, h.locker.renews, "renew")
	call.reply <- errors.New("connection refused")
	waitFor(t, h.e, "renew error recorded", func(s Status) bool { return s.LastError != "" })

	// Retries fail too; just before the deadline the replica still leads.
	h.clock.Step(renewDeadline - renewInterval - time.Millisecond)
	if !h.e.IsLeader() {
		t.Fatal("stepped down before the deadline")
	}
	h.clock.Step(time.Millisecond)
	if h.e.IsLeader() {
		t.Fatal("still leader at the deadline")
	}
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonDeadline {
		t.Errorf("reason = %s, want deadline", r)
	}
	if leaderCtx.Err() == nil {
		t.Error("leader context not cancelled")
	}
	if got := recv(t, h.locker.releases, "release after deadline"); got != 1 {
		t.Errorf("released fence %d, want 1", got)
	}
	// And it campaigns again.
	recv(t, h.locker.acquires, "acquire after step-down")
}

func TestPausedProcessNeverReadsAsLeader(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(1)
	recv(t, h.started, "OnStartedLeading")
	// The process "resumes" past its deadline before any timer has run:
	// every read must already say it does not lead.
	h.clock.skew.Store(int64(renewDeadline))
	if h.e.IsLeader() || h.e.Status().Leader {
		t.Fatal("a paused process read as leader past its deadline")
	}
	if s := h.e.Status(); s.Fence != 0 && s.Holder == "me" {
		t.Errorf("status past deadline still names this replica: %+v", s)
	}
	// Past the deadline by more than a renew interval with the loop not
	// having stepped down, the loop counts as wedged.
	h.clock.skew.Store(int64(renewDeadline + renewInterval + time.Millisecond))
	if err := h.e.Healthy(); err == nil || !strings.Contains(err.Error(), "wedged") {
		t.Errorf("Healthy = %v, want wedged", err)
	}
	h.clock.skew.Store(0)
	if err := h.e.Healthy(); err != nil {
		t.Errorf("Healthy = %v while leading within the deadline", err)
	}
}

func TestLateRenewReplyDoesNotRevive(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(1)
	recv(t, h.started, "OnStartedLeading")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	call := recv(t, h.locker.renews, "renew")
	// The reply arrives only after the deadline has passed.
	h.clock.skew.Store(int64(renewDeadline))
	call.reply <- nil
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonDeadline {
		t.Errorf("reason = %s, want deadline", r)
	}
}

func TestStepsDownAtOnceWhenLost(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(3)
	leaderCtx := recv(t, h.started, "OnStartedLeading")
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	call := recv(t, h.locker.renews, "renew")
	call.reply <- ErrLost
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonLost {
		t.Errorf("reason = %s, want lost", r)
	}
	if h.e.IsLeader() || leaderCtx.Err() == nil {
		t.Error("still leader after a lost lease")
	}
	recv(t, h.locker.acquires, "acquire after lost")
	none(t, h.locker.releases, "release of a lost lease")
}

func TestResignWithHoldOff(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(5)
	recv(t, h.started, "OnStartedLeading")
	released, err := h.e.Resign(t.Context(), 30*time.Second)
	if err != nil || !released {
		t.Fatalf("Resign = %v, %v; want released", released, err)
	}
	if got := recv(t, h.locker.releases, "release"); got != 5 {
		t.Errorf("released fence %d, want 5", got)
	}
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonResigned {
		t.Errorf("reason = %s", r)
	}
	s := h.e.Status()
	if s.Leader || s.HoldOff != 30*time.Second {
		t.Errorf("status = %+v, want follower in a 30s hold-off", s)
	}
	// No campaign during the hold-off...
	waitWaiters(t, h.clock.FakeClock, 1)
	h.clock.Step(30*time.Second - time.Millisecond)
	none(t, h.locker.acquires, "acquire during hold-off")
	// ...and one right after it.
	h.clock.Step(time.Millisecond)
	recv(t, h.locker.acquires, "acquire after hold-off")
}

func TestResignWhileFollowing(t *testing.T) {
	h := newHarness(t, nil)
	call := recv(t, h.locker.acquires, "acquire")
	call.onHeld(Holder{Identity: "other", Fence: 9, Remaining: time.Second})
	if id := recv(t, h.leaders, "OnNewLeader"); id != "other" {
		t.Errorf("OnNewLeader(%q)", id)
	}
	if s := h.e.Status(); s.Holder != "other" || s.Fence != 9 || s.Leader {
		t.Errorf("status = %+v, want follower of other at fence 9", s)
	}
	released, err := h.e.Resign(t.Context(), time.Minute)
	if err != nil || released {
		t.Fatalf("Resign = %v, %v; want nothing released", released, err)
	}
	if call.ctx.Err() == nil {
		t.Error("Resign did not cancel the pending acquire")
	}
	waitWaiters(t, h.clock.FakeClock, 1)
	h.clock.Step(time.Minute)
	recv(t, h.locker.acquires, "acquire after hold-off")
}

func TestShutdownReleasesAfterWorkReturns(t *testing.T) {
	workMayReturn := make(chan struct{})
	h := newHarness(t, func(c *Config) {
		c.OnStartedLeading = func(ctx context.Context, _ Term) {
			<-ctx.Done()
			<-workMayReturn
		}
	})
	h.grant(4)
	h.cancel()
	waitFor(t, h.e, "step-down", func(s Status) bool { return !s.Leader })
	none(t, h.locker.releases, "release before the work returned")
	close(workMayReturn)
	if got := recv(t, h.locker.releases, "release"); got != 4 {
		t.Errorf("released fence %d", got)
	}
	if r := recv(t, h.stopped, "OnStoppedLeading"); r != ReasonShutdown {
		t.Errorf("reason = %s", r)
	}
	if err := recv(t, h.runDone, "Run to return"); err != nil {
		t.Errorf("Run = %v", err)
	}
	h.runDone <- nil // for the cleanup
	if _, err := h.e.Resign(t.Context(), 0); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Resign after Run = %v, want ErrNotRunning", err)
	}
}

func TestLateAcquireIsNotLed(t *testing.T) {
	h := newHarness(t, nil)
	call := recv(t, h.locker.acquires, "acquire")
	lease := &fakeLease{f: h.locker, fence: 2, sentAt: h.clock.Now().Add(-renewDeadline)}
	call.reply <- acquireReply{lease: lease}
	if got := recv(t, h.locker.releases, "release of a stale term"); got != 2 {
		t.Errorf("released %d", got)
	}
	none(t, h.started, "OnStartedLeading")
	recv(t, h.locker.acquires, "next acquire")
}

func TestAcquireErrorsBackOff(t *testing.T) {
	h := newHarness(t, nil)
	retry := renewInterval / 4
	for i := range 3 {
		call := recv(t, h.locker.acquires, "acquire")
		call.reply <- acquireReply{err: errors.New("redis down")}
		s := waitFor(t, h.e, "error in status", func(s Status) bool { return s.LastError != "" })
		if !strings.Contains(s.LastError, "redis down") {
			t.Errorf("LastError = %q", s.LastError)
		}
		if err := h.e.Healthy(); err != nil {
			t.Errorf("Healthy = %v; a follower with Redis down is healthy", err)
		}
		// Back-off doubles, with ±20% jitter: nothing before 80% of it.
		wait := retry << i
		waitWaiters(t, h.clock.FakeClock, 1)
		h.clock.Step(wait * 8 / 10)
		none(t, h.locker.acquires, "acquire before back-off")
		h.clock.Step(wait * 4 / 10)
	}
	h.grant(1)
	if s := h.e.Status(); s.LastError != "" {
		t.Errorf("LastError = %q after success", s.LastError)
	}
}

func TestRunTwice(t *testing.T) {
	h := newHarness(t, nil)
	recv(t, h.locker.acquires, "acquire")
	if err := h.e.Run(t.Context()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	base := func() Config {
		return Config{Locker: newFakeLocker(), Name: "job", Identity: "me"}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string
		rule   string
	}{
		{"no locker", func(c *Config) { c.Locker = nil }, "Locker", "required"},
		{"no name", func(c *Config) { c.Name = "" }, "Name", "characters"},
		{"name with brace", func(c *Config) { c.Name = "a{b}" }, "Name", "characters"},
		{"no identity", func(c *Config) { c.Identity = "" }, "Identity", "empty"},
		{"identity with space", func(c *Config) { c.Identity = "a b" }, "Identity", "printable"},
		{"long identity", func(c *Config) { c.Identity = strings.Repeat("a", 254) }, "Identity", "at most"},
		{"tiny ttl", func(c *Config) { c.LeaseTTL = time.Millisecond }, "LeaseTTL", "at least"},
		{"sub-ms ttl", func(c *Config) { c.LeaseTTL = 1500 * time.Microsecond }, "LeaseTTL", "whole"},
		{"negative interval", func(c *Config) { c.RenewInterval = -time.Second }, "RenewInterval", "greater than 0"},
		{"interval at deadline", func(c *Config) { c.RenewInterval = 10 * time.Second }, "RenewInterval", "less than RenewDeadline"},
		{"deadline at ttl", func(c *Config) { c.RenewDeadline = 15 * time.Second }, "RenewDeadline", "less than LeaseTTL"},
		{"negative retry", func(c *Config) { c.RetryPeriod = -1 }, "RetryPeriod", "greater than 0"},
		{"negative release timeout", func(c *Config) { c.ReleaseTimeout = -1 }, "ReleaseTimeout", "greater than 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			_, err := New(cfg)
			var fe *field.Error
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: err = %v, want ErrInvalidConfig and a *field.Error", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Error(), tc.rule) {
				t.Errorf("got %s %q, want field %s and rule with %q", fe.Field, fe.Rule, tc.field, tc.rule)
			}
			if want := "election: invalid config: " + tc.field + " "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not start with %q", err, want)
			}
		})
	}
	e, err := New(base())
	if err != nil {
		t.Fatal(err)
	}
	got := e.Config()
	if got.LeaseTTL != 15*time.Second || got.RenewInterval != 5*time.Second || got.RenewDeadline != 10*time.Second ||
		got.RetryPeriod != 1250*time.Millisecond || got.ReleaseTimeout != 5*time.Second {
		t.Errorf("defaults = %v %v %v %v %v", got.LeaseTTL, got.RenewInterval, got.RenewDeadline, got.RetryPeriod, got.ReleaseTimeout)
	}
}
