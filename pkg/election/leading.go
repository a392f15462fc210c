package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"

	"github.com/baton-dev/baton/internal/clocks"
)

// errStepDown is the cause of a leader context cancelled by a step-down.
var errStepDown = errors.New("election: stepped down")

// term is one term of leadership, from begin to stepDown, and the work that
// runs during it. Only the election loop writes it.
type term struct {
	Term
	lease Lease
	// sentAt is when the last successful acquire or renew was sent: the
	// lease cannot expire in the store before sentAt+LeaseTTL.
	sentAt time.Time
	// validUntil is sentAt+RenewDeadline: this candidate leads until then.
	validUntil time.Time
	// cancel ends the leader context handed to OnStartedLeading.
	cancel context.CancelCauseFunc
	// workDone is closed when OnStartedLeading has returned.
	workDone chan struct{}
	// endedAt is when the term ended, on the elector's clock.
	endedAt time.Time
}

// leaseExpiry is the earliest moment the lease can have expired in the
// store. The margin between validUntil and it belongs to the term's work.
func (t *term) leaseExpiry(ttl time.Duration) time.Time { return t.sentAt.Add(ttl) }

// workStopped reports whether OnStartedLeading has returned.
func (t *term) workStopped() bool {
	select {
	case <-t.workDone:
		return true
	default:
		return false
	}
}

// renewResult is the outcome of one renew attempt.
type renewResult struct {
	sent time.Time
	err  error
	// round is the renewal the attempt belongs to; it counts only there.
	round uint64
	// full: the attempt was bounded by the term's deadline, not by the
	// stall bound.
	full bool
}

// begin turns an acquired lease into a term and starts its work, or gives
// the lease back and returns nil: when the acquire came back too late to
// lead on, or when a Resign came after the acquire started (epoch).
func (e *Elector) begin(ctx context.Context, lease Lease, epoch uint64) *term {
	clk := e.cfg.Clock
	t := &term{lease: lease, sentAt: lease.SentAt(), workDone: make(chan struct{})}
	t.validUntil = t.sentAt.Add(e.cfg.RenewDeadline)
	e.mu.Lock()
	newHolder := e.holder.Identity != e.cfg.Identity
	e.mu.Unlock()
	// Announced before the state flips: a Resign from the callback then
	// finds this candidate not leading, and is answered at once.
	if newHolder && e.cfg.OnNewLeader != nil {
		e.cfg.OnNewLeader(e.cfg.Identity)
	}

	// Read before the state flips, so the logged term can only look longer.
	startMono := clocks.MonotonicNS()
	now := clk.Now()
	var late, resigned bool
	e.update(func() {
		e.holder = Holder{Identity: e.cfg.Identity, Fence: lease.Fence()}
		late = !now.Before(t.validUntil)
		resigned = e.resignEpoch != epoch || now.Before(e.holdOffUntil) || e.withdrawn
		if late || resigned {
			return
		}
		t.Term = Term{Fence: lease.Fence(), Start: now}
		e.leading, e.term, e.validUntil = true, t.Term, t.validUntil
	})
	switch {
	case late:
		// Acquire came back after the term's deadline (a pause, a slow
		// reply): never lead on a term that may already be over.
		e.log.Warn("acquired term already past its deadline; releasing",
			"fence", lease.Fence(), "late_by", now.Sub(t.validUntil))
		e.releaseBounded(lease)
		return nil
	case resigned:
		// Won the race with a Resign: give the lock straight back.
		e.releaseBounded(lease)
		return nil
	}
	e.log.Info("started leading", "holder", e.cfg.Identity, "fence", t.Fence,
		"valid_for_ms", t.validUntil.Sub(now).Milliseconds(), "mono_ns", startMono)
	e.cfg.Recorder.Transition(true, t.Fence)

	leaderCtx, cancel := context.WithCancelCause(context.WithValue(ctx, workKey{}, t))
	t.cancel = cancel
	if e.cfg.OnStartedLeading != nil {
		go func() {
			defer close(t.workDone)
			e.cfg.OnStartedLeading(leaderCtx, t.Term)
		}()
	} else {
		close(t.workDone)
	}
	return t
}

// lead holds term t until it ends and returns why it ended. It renews every
// RenewInterval; the term stays valid until RenewDeadline after the last
// successful acquire or renew was sent, and not a moment longer.
//
// A renewal may use all the time left before the term's deadline, so a
// round trip below RenewDeadline-RenewInterval never costs the term: its
// full attempt runs until that deadline. Only a stalled connection is
// worked around: when the full attempt has no answer within the stall
// bound, quick attempts, each bounded by it, go out beside it on other
// connections, one at a time. The first success renews, and the
// renewal's other attempts are then cancelled and ignored.
func (e *Elector) lead(ctx context.Context, t *term) StepDownReason {
	clk := e.cfg.Clock
	now := clk.Now()
	renewCtx, cancelRenew := context.WithCancel(ctx)
	defer cancelRenew()
	renewTimer := clk.NewTimer(max(0, e.cfg.RenewInterval-now.Sub(t.sentAt)))
	deadline := clk.NewTimer(t.validUntil.Sub(now))
	results := make(chan renewResult, 2)
	// round counts the renewals; full and quick say which of its attempts
	// are in flight, and endRound cancels them once it has succeeded.
	var (
		round       uint64
		full, quick bool
	)
	// Each round's context is a child of renewCtx, which ends with the term.
	newRound := func() (context.Context, context.CancelFunc) { return context.WithCancel(renewCtx) }
	roundCtx, endRound := newRound()

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
			// After a suspend the timer fires late: check the term first.
			if !clk.Now().Before(t.validUntil) {
				break
			}
			switch {
			case !full:
				full = true
				go e.renewOnce(renewCtx, roundCtx, t.lease, t.validUntil, round, true, results)
				// No answer within the stall bound: a quick attempt
				// goes out beside it.
				renewTimer.Reset(e.renewStallBound())
			case !quick:
				quick = true
				go e.renewOnce(renewCtx, roundCtx, t.lease, t.validUntil, round, false, results)
			}
		case r := <-results:
			current := r.round == round
			if current && r.full {
				full = false
			} else if current {
				quick = false
			}
			now := clk.Now()
			switch {
			case !now.Before(t.validUntil):
				// Whatever the reply, the term ran out before it was
				// handled; once invalid, a term stays over.
				reason = ReasonDeadline
			case errors.Is(r.err, ErrLost):
				// Even from an earlier round: the lease is gone.
				e.recordError("renew", r.err)
				reason = ReasonLost
			case !current:
				// Its round was renewed by another attempt, which
				// cancelled it.
			case r.err == nil:
				e.clearError()
				round++
				endRound()
				roundCtx, endRound = newRound()
				full, quick = false, false
				if r.sent.After(t.sentAt) {
					t.sentAt = r.sent
				}
				if next := t.sentAt.Add(e.cfg.RenewDeadline); next.After(t.validUntil) {
					t.validUntil = next
					e.update(func() { e.validUntil = next })
					resetTimer(deadline, next.Sub(now))
				}
				resetTimer(renewTimer, max(0, e.cfg.RenewInterval-now.Sub(r.sent)))
			default:
				// Retry a RetryPeriod after the failed attempt was sent;
				// an attempt that timed out is retried at once. A full
				// attempt still in flight keeps running meanwhile.
				e.recordError("renew", r.err)
				retry := max(0, e.cfg.RetryPeriod-now.Sub(r.sent))
				resetTimer(renewTimer, min(retry, t.validUntil.Sub(now)))
			}
		}
		// A read of Status already says "not leader" once the term is past
		// its deadline; make the loop agree even if the timer is late (as
		// after a suspend, when Go's timers lag the boot-time clock).
		if reason == "" && !clk.Now().Before(t.validUntil) {
			reason = ReasonDeadline
		}
	}
	// The term's timers end with it, before the step-down, which waits (for
	// the work, for the release) on timers of its own.
	cancelRenew()
	renewTimer.Stop()
	deadline.Stop()
	return e.stepDown(ctx, t, reason)
}

// stepDown ends term t: status, readiness and the leader context flip
// first. Then the lock is released once the work has stopped:
//   - resigned, shutdown: within ReleaseTimeout, so that a waiter takes over
//     at once;
//   - deadline: no later than the lease's expiry in the store, so that the
//     margin LeaseTTL-RenewDeadline stays the work's time to stop; the
//     release then only spares waiters what is left of the TTL;
//   - lost: the lease is not ours any more, so there is nothing to release.
func (e *Elector) stepDown(ctx context.Context, t *term, reason StepDownReason) StepDownReason {
	e.update(func() {
		e.leading, e.validUntil = false, time.Time{}
		e.holder = Holder{}
		e.lastReason, e.lastFence = reason, t.Fence
	})
	t.cancel(fmt.Errorf("%w: %s", errStepDown, reason))
	e.answerResigns(false, true)
	// Read after the state flipped, so the logged term can only look
	// longer. Reads of Status stopped reporting leader at valid_until_mono_ns
	// already, if that came first.
	endMono, clockNow := clocks.MonotonicNS(), e.cfg.Clock.Now()
	t.endedAt = clockNow
	e.log.Info("stopped leading", "holder", "", "fence", t.Fence, "reason", string(reason),
		"term_ms", clockNow.Sub(t.Start).Milliseconds(),
		"mono_ns", endMono, "valid_until_mono_ns", monotonicAt(t.validUntil, clockNow, endMono))
	e.cfg.Recorder.Transition(false, t.Fence)

	released := false
	switch reason {
	case ReasonResigned, ReasonShutdown:
		// The wait is ReleaseTimeout already: a shutdown through ctx (done
		// already, for ReasonShutdown) cannot cut it shorter.
		if !e.waitWork(ctx, t, clockNow.Add(e.cfg.ReleaseTimeout)) {
			e.log.Warn("OnStartedLeading did not return within the release timeout; releasing anyway", "fence", t.Fence)
		}
		released = e.releaseBounded(t.lease)
	case ReasonDeadline:
		expiry := t.leaseExpiry(e.cfg.LeaseTTL)
		if !e.waitWork(ctx, t, expiry) && e.cfg.OnStartedLeading != nil {
			e.log.Warn("OnStartedLeading still running when the lease could expire", "fence", t.Fence)
		}
		released = e.releaseBounded(t.lease)
	}
	e.finishResigns(released)
	if e.cfg.OnStoppedLeading != nil {
		e.cfg.OnStoppedLeading(t.Term, reason)
	}
	return reason
}

// waitWork waits until t's work has stopped or until, on the elector's
// clock, the given moment; it reports whether the work stopped. A shutdown
// through ctx cuts the wait to ReleaseTimeout from then, if that is sooner.
func (e *Elector) waitWork(ctx context.Context, t *term, until time.Time) bool {
	if t.workStopped() {
		return true
	}
	clk := e.cfg.Clock
	timer := clk.NewTimer(until.Sub(clk.Now()))
	defer timer.Stop()
	done := ctx.Done()
	for {
		select {
		case <-t.workDone:
			return true
		case <-timer.C():
			return false
		case <-done:
			done = nil
			if cut := clk.Now().Add(e.cfg.ReleaseTimeout); cut.Before(until) {
				until = cut
				resetTimer(timer, until.Sub(clk.Now()))
			}
		}
	}
}

// awaitWork holds the next campaign until the previous term's work has
// returned, so that one process never runs two terms' work at once. It
// waits at most until ReleaseTimeout after the term ended, or the lease's
// expiry if later, and logs when that bound is hit.
func (e *Elector) awaitWork(ctx context.Context, t *term) error {
	until := t.endedAt.Add(e.cfg.ReleaseTimeout)
	if exp := t.leaseExpiry(e.cfg.LeaseTTL); exp.After(until) {
		until = exp
	}
	if !e.waitWork(ctx, t, until) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.log.Warn("OnStartedLeading of the previous term has not returned; campaigning again anyway",
			"fence", t.Fence, "waited_ms", e.cfg.Clock.Since(t.endedAt).Milliseconds())
	}
	return ctx.Err()
}

// renewStallBound is how long a renewal waits for an answer before it
// suspects a stalled connection and sends a quick attempt beside it, and
// the bound of each quick attempt: a single stalled connection must cost
// one attempt, not the whole term.
func (e *Elector) renewStallBound() time.Duration { return 2 * e.cfg.RetryPeriod }

// renewOnce sends one renew attempt of round under roundCtx, bounded by
// the term's deadline and, unless full, by the stall bound. The result is
// delivered until the term's loop ends (loopCtx).
func (e *Elector) renewOnce(loopCtx, roundCtx context.Context, lease Lease, validUntil time.Time, round uint64, full bool, out chan<- renewResult) {
	sent := e.cfg.Clock.Now()
	bound := validUntil.Sub(sent)
	if !full {
		bound = min(bound, e.renewStallBound())
	}
	rctx, cancel := context.WithTimeout(roundCtx, bound)
	err := lease.Renew(rctx)
	cancel()
	e.cfg.Recorder.Renewed(e.cfg.Clock.Since(sent), err)
	select {
	case out <- renewResult{sent: sent, err: err, round: round, full: full}:
	case <-loopCtx.Done():
	}
}

// monotonicAt maps a time on the elector's clock to CLOCK_MONOTONIC, given
// a pair of readings taken together.
func monotonicAt(t, clockNow time.Time, monoNow int64) int64 {
	return monoNow + int64(t.Sub(clockNow))
}

func resetTimer(t clock.Timer, d time.Duration) {
	t.Stop()
	t.Reset(d)
}
