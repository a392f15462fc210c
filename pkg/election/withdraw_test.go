package election

import (
	"errors"
	"testing"
)

func TestWithdrawWhileFollowingStopsCampaigning(t *testing.T) {
	h := newHarness(t, nil)
	call := recv(t, h.locker.acquires, "acquire")
	if err := h.e.Withdraw(); err != nil {
		t.Fatalf("Withdraw = %v", err)
	}
	if call.ctx.Err() == nil {
		t.Error("Withdraw did not cancel the pending acquire")
	}
	waitFor(t, h.e, "withdrawn status", func(s Status) bool { return s.Withdrawn && !s.Leader })
	// However long it runs, no acquire follows: not after a retry period,
	// not after a lease TTL.
	h.clock.Step(ttl)
	h.clock.Step(ttl)
	none(t, h.locker.acquires, "acquire after Withdraw")
	if err := h.e.Withdraw(); err != nil {
		t.Errorf("second Withdraw = %v, want nil", err)
	}
}

func TestWithdrawKeepsTheTermInProgress(t *testing.T) {
	h := newHarness(t, nil)
	h.grant(7)
	recv(t, h.started, "OnStartedLeading")
	if err := h.e.Withdraw(); err != nil {
		t.Fatalf("Withdraw = %v", err)
	}
	// The term goes on and renews as usual.
	waitWaiters(t, h.clock.FakeClock, 2)
	h.clock.Step(renewInterval)
	c := recv(t, h.locker.renews, "renew after Withdraw")
	c.reply <- nil
	if s := h.e.Status(); !s.Leader || s.Fence != 7 || !s.Withdrawn {
		t.Fatalf("status = %+v, want leader of fence 7, withdrawn", s)
	}
	// Once it ends, there is no new campaign.
	if _, err := h.e.Resign(t.Context(), 0); err != nil {
		t.Fatalf("Resign = %v", err)
	}
	recv(t, h.locker.releases, "release")
	h.clock.Step(ttl)
	none(t, h.locker.acquires, "acquire after the withdrawn term")
}

func TestWithdrawnCampaignGivesBackWhatItWins(t *testing.T) {
	h := newHarness(t, nil)
	call := recv(t, h.locker.acquires, "acquire")
	if err := h.e.Withdraw(); err != nil {
		t.Fatalf("Withdraw = %v", err)
	}
	// The acquire's reply races with its cancellation: either it is cut
	// short, or it wins and begin gives the lease straight back.
	call.reply <- acquireReply{lease: &fakeLease{f: h.locker, fence: 3, sentAt: h.clock.Now()}}
	h.clock.Step(ttl)
	h.cancel()
	if err := recv(t, h.runDone, "Run to return"); err != nil {
		t.Errorf("Run = %v", err)
	}
	h.runDone <- nil // for the cleanup
	none(t, h.started, "a term after Withdraw")
	select {
	case got := <-h.locker.releases:
		if got != 3 {
			t.Errorf("released fence %d, want 3", got)
		}
	default:
	}
}

func TestWithdrawBeforeRun(t *testing.T) {
	e, err := New(Config{Locker: newFakeLocker(), Name: "job", Identity: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Withdraw(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Withdraw before Run = %v, want ErrNotRunning", err)
	}
}
