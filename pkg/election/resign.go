package election

import (
	"context"
	"fmt"
	"time"
)

// resignRequest is one Resign waiting for the current term to end.
type resignRequest struct {
	done     chan struct{}
	released bool
	// fromWork marks a Resign made with the context of the term's own
	// OnStartedLeading: it is answered as soon as the term has ended, since
	// the release itself waits for that work to return.
	fromWork bool
}

// workKey is the context key under which a term's leader context carries
// that term.
type workKey struct{}

// Resign steps down if leading, releases the lock so that another candidate
// can take it, and keeps this candidate out of the election for holdOff,
// which replaces any hold-off still running (a shorter one, or 0, ends it
// sooner). holdOff must lie in [0, MaxHoldOff]. Without a hold-off this
// candidate competes again at once and may win again.
//
// While leading, Resign returns once the term has ended and the lock has
// been released, and reports whether the release succeeded. Called from
// OnStartedLeading with its context (or one derived from it), it returns as
// soon as the term has ended, with false: the lock is released when
// OnStartedLeading returns. While not leading (including from OnNewLeader
// and OnStoppedLeading), it interrupts any campaign in flight, never leads
// on what that campaign wins, and returns at once with false.
func (e *Elector) Resign(ctx context.Context, holdOff time.Duration) (bool, error) {
	if holdOff < 0 || holdOff > MaxHoldOff {
		return false, fmt.Errorf("%w: %v must lie between 0 and %v", ErrInvalidHoldOff, holdOff, MaxHoldOff)
	}
	w, _ := ctx.Value(workKey{}).(*term)
	req := &resignRequest{done: make(chan struct{})}
	var (
		running, leading bool
		cancelAcquire    context.CancelFunc
	)
	now := e.cfg.Clock.Now()
	e.update(func() {
		e.holdOffUntil = now.Add(holdOff)
		e.resignEpoch++
		running, leading = e.running, e.leading
		if running && leading {
			req.fromWork = w != nil && w.Fence == e.term.Fence
			e.resigns = append(e.resigns, req)
		}
		cancelAcquire = e.acquireCancel
	})
	if !running {
		return false, ErrNotRunning
	}
	if cancelAcquire != nil {
		cancelAcquire()
	}
	select {
	case e.kick <- struct{}{}:
	default:
	}
	if !leading {
		return false, nil
	}
	if req.fromWork {
		// Answered when the term ends, which this kick makes prompt; the
		// context itself is cancelled by that very step-down.
		<-req.done
		return req.released, nil
	}
	select {
	case <-req.done:
		return req.released, nil
	case <-ctx.Done():
		return false, fmt.Errorf("election: resign: %w", context.Cause(ctx))
	}
}

// finishResigns answers the pending resign requests that match: those from
// the term's work only, or all.
func (e *Elector) finishResigns(released bool) { e.answerResigns(released, false) }

func (e *Elector) answerResigns(released, fromWorkOnly bool) {
	e.mu.Lock()
	var answer, keep []*resignRequest
	for _, r := range e.resigns {
		if fromWorkOnly && !r.fromWork {
			keep = append(keep, r)
			continue
		}
		answer = append(answer, r)
	}
	e.resigns = keep
	e.mu.Unlock()
	for _, r := range answer {
		r.released = released
		close(r.done)
	}
}

func (e *Elector) pendingResign() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.resigns) > 0
}

// sleepHoldOff waits out a hold-off. A Resign meanwhile replaces it and
// wakes this wait, which then sleeps for what is left of the new one. After
// Withdraw it waits until ctx ends.
func (e *Elector) sleepHoldOff(ctx context.Context) error {
	for {
		if e.isWithdrawn() {
			<-ctx.Done()
			return ctx.Err()
		}
		now := e.cfg.Clock.Now()
		e.mu.Lock()
		wait := e.holdOffUntil.Sub(now)
		e.mu.Unlock()
		if wait <= 0 {
			return ctx.Err()
		}
		t := e.cfg.Clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-e.kick:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}
