package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"
)

type renewResult struct {
	sent time.Time
	err  error
}

// errStepDown is the cause of a leader context cancelled by a step-down.
var errStepDown = errors.New("election: stepped down")

// lead holds one term until it ends and returns why it ended. It renews
// every RenewInterval; the term stays valid until RenewDeadline after the
// last successful acquire or renew was sent, and not a moment longer.
func (e *Elector) lead(ctx context.Context, lease Lease) StepDownReason {
	clk := e.cfg.Clock
	validUntil := lease.SentAt().Add(e.cfg.RenewDeadline)
	now := clk.Now()
	if !now.Before(validUntil) {
		// Acquire came back after the term's deadline (a pause, a slow
		// reply): never lead on a term that may already be over.
		e.cfg.Logger.Warn("acquired term already past its deadline; releasing", "lock", e.cfg.Name,
			"identity", e.cfg.Identity, "fence", lease.Fence(), "late_by", now.Sub(validUntil))
		e.releaseBounded(lease)
		return ReasonDeadline
	}

	// Read before the state flips, so the logged term can only look longer.
	startMono := monotonicNS()
	term := Term{Fence: lease.Fence(), Start: now}
	leaderCtx, cancelLeader := context.WithCancelCause(ctx)
	defer cancelLeader(errStepDown)
	var newHolder bool
	e.update(func() {
		e.leading, e.term, e.validUntil = true, term, validUntil
		newHolder = e.holder.Identity != e.cfg.Identity
		e.holder = Holder{Identity: e.cfg.Identity, Fence: term.Fence}
	})
	e.cfg.Logger.Info("started leading", "lock", e.cfg.Name, "identity", e.cfg.Identity,
		"holder", e.cfg.Identity, "fence", term.Fence, "valid_for_ms", validUntil.Sub(now).Milliseconds(),
		"mono_ns", startMono)
	e.cfg.Recorder.Transition(true, term.Fence)
	if newHolder && e.cfg.OnNewLeader != nil {
		e.cfg.OnNewLeader(e.cfg.Identity)
	}
	workDone := make(chan struct{})
	if e.cfg.OnStartedLeading != nil {
		go func() {
			defer close(workDone)
			e.cfg.OnStartedLeading(leaderCtx, term)
		}()
	} else {
		close(workDone)
	}

	renewCtx, cancelRenew := context.WithCancel(ctx)
	defer cancelRenew()
	renewTimer := clk.NewTimer(max(0, e.cfg.RenewInterval-clk.Since(lease.SentAt())))
	defer renewTimer.Stop()
	deadline := clk.NewTimer(validUntil.Sub(now))
	defer deadline.Stop()
	results := make(chan renewResult, 1)
	renewing := false

	var reason StepDownReason
	for reason == "" {
		select {
		case <-ctx.Done():
			reason = ReasonShutdown
		case <-e.kick:
			if e.pendingResign() {
				reason = ReasonResigned
			}
		case <-deadline.C():
			reason = ReasonDeadline
		case <-renewTimer.C():
			if !renewing {
				renewing = true
				go e.renewOnce(renewCtx, lease, validUntil, results)
			}
		case r := <-results:
			renewing = false
			now := clk.Now()
			switch {
			case !now.Before(validUntil):
				// Whatever the reply, the term ran out before it was
				// handled; once invalid, a term stays over.
				reason = ReasonDeadline
			case r.err == nil:
				e.clearError()
				if next := r.sent.Add(e.cfg.RenewDeadline); next.After(validUntil) {
					validUntil = next
					e.update(func() { e.validUntil = validUntil })
					resetTimer(deadline, validUntil.Sub(now))
				}
				resetTimer(renewTimer, max(0, e.cfg.RenewInterval-now.Sub(r.sent)))
			case errors.Is(r.err, ErrLost):
				e.recordError("renew", r.err)
				reason = ReasonLost
			default:
				e.recordError("renew", r.err)
				resetTimer(renewTimer, min(e.cfg.RetryPeriod, validUntil.Sub(now)))
			}
		}
		// A read of Status already says "not leader" once the term is past
		// its deadline; make the loop agree even if the timer is late.
		if reason == "" && !clk.Now().Before(validUntil) {
			reason = ReasonDeadline
		}
	}
	cancelRenew()
	return e.stepDown(lease, term, validUntil, reason, cancelLeader, workDone)
}

// stepDown ends a term: status, readiness and the leader context flip first;
// then, for a graceful end, the work is given ReleaseTimeout to return and
// the lock is released so that a waiter takes over at once.
func (e *Elector) stepDown(lease Lease, term Term, validUntil time.Time, reason StepDownReason, cancelLeader context.CancelCauseFunc, workDone <-chan struct{}) StepDownReason {
	e.update(func() {
		e.leading, e.validUntil = false, time.Time{}
		e.holder = Holder{}
		e.lastReason, e.lastFence = reason, term.Fence
	})
	cancelLeader(fmt.Errorf("%w: %s", errStepDown, reason))
	// Read after the state flipped, so the logged term can only look
	// longer. Reads of Status stopped reporting leader at valid_until_mono_ns
	// already, if that came first.
	endMono, clockNow := monotonicNS(), e.cfg.Clock.Now()
	e.cfg.Logger.Info("stopped leading", "lock", e.cfg.Name, "identity", e.cfg.Identity,
		"holder", "", "fence", term.Fence, "reason", string(reason),
		"term_ms", clockNow.Sub(term.Start).Milliseconds(),
		"mono_ns", endMono, "valid_until_mono_ns", monotonicAt(validUntil, clockNow, endMono))
	e.cfg.Recorder.Transition(false, term.Fence)

	released := false
	switch reason {
	case ReasonResigned, ReasonShutdown:
		t := e.cfg.Clock.NewTimer(e.cfg.ReleaseTimeout)
		select {
		case <-workDone:
		case <-t.C():
			e.cfg.Logger.Warn("OnStartedLeading did not return within the release timeout; releasing anyway",
				"lock", e.cfg.Name, "identity", e.cfg.Identity, "fence", term.Fence)
		}
		t.Stop()
		released = e.releaseBounded(lease)
	case ReasonDeadline:
		// The lease may still be ours in the store; hand it back if the
		// store answers, so a waiter need not wait for the TTL.
		released = e.releaseBounded(lease)
	}
	if reason == ReasonResigned {
		e.finishResigns(released)
	}
	if e.cfg.OnStoppedLeading != nil {
		e.cfg.OnStoppedLeading(term, reason)
	}
	return reason
}

// renewOnce sends one renewal, bounded by the term's deadline.
func (e *Elector) renewOnce(ctx context.Context, lease Lease, validUntil time.Time, out chan<- renewResult) {
	sent := e.cfg.Clock.Now()
	rctx, cancel := context.WithTimeout(ctx, validUntil.Sub(sent))
	err := lease.Renew(rctx)
	cancel()
	e.cfg.Recorder.Renewed(e.cfg.Clock.Since(sent), err)
	out <- renewResult{sent: sent, err: err}
}

func resetTimer(t clock.Timer, d time.Duration) {
	t.Stop()
	t.Reset(d)
}
