package election

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Elector campaigns for one lock and keeps it while it can.
type Elector struct {
	cfg Config

	mu sync.Mutex
	// changed is closed, and replaced, at every change of state.
	changed       chan struct{}
	gen           uint64
	running       bool
	leading       bool
	term          Term
	validUntil    time.Time // on cfg.Clock, monotonic when real
	holder        Holder
	holdOffUntil  time.Time
	lastErr       error
	lastReason    StepDownReason // why the latest term ended
	lastFence     uint64         // the fence of the latest term that ended
	acquireCancel context.CancelFunc
	resigns       []*resignRequest

	// kick wakes the leading loop for a pending resign.
	kick chan struct{}
}

type resignRequest struct {
	done     chan struct{}
	released bool
}

// New validates cfg, fills in its defaults, and returns an elector. It makes
// no call to the Locker.
func New(cfg Config) (*Elector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Elector{cfg: cfg, changed: make(chan struct{}), kick: make(chan struct{}, 1)}, nil
}

// Config returns the configuration in force, with defaults filled in.
func (e *Elector) Config() Config { return e.cfg }

// Status returns a snapshot. Leadership is checked against the validity
// deadline on every call.
func (e *Elector) Status() Status {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{
		Name:       e.cfg.Name,
		Identity:   e.cfg.Identity,
		Holder:     e.holder.Identity,
		Fence:      e.holder.Fence,
		Running:    e.running,
		Generation: e.gen,

		LastStepDown:      e.lastReason,
		LastStepDownFence: e.lastFence,
	}
	if e.lastErr != nil {
		s.LastError = e.lastErr.Error()
	}
	if d := e.holdOffUntil.Sub(now); d > 0 {
		s.HoldOff = d
	}
	if e.leading && !now.Before(e.validUntil) {
		// The term ran out but the loop has not stepped down yet: the
		// holder is unknown, and certainly not known to be us.
		s.Holder, s.Fence = "", 0
	}
	if e.leading && now.Before(e.validUntil) {
		s.Leader = true
		s.Holder = e.cfg.Identity
		s.Fence = e.term.Fence
		s.TermStart = e.term.Start
		s.Remaining = e.validUntil.Sub(now)
	}
	return s
}

// IsLeader reports whether this candidate leads now, with a valid term.
func (e *Elector) IsLeader() bool {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading && now.Before(e.validUntil)
}

// Changed returns a channel that is closed at the next change of status.
// Call it again after each wake-up for the following change.
func (e *Elector) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Healthy reports an error when the election loop is wedged: it still holds
// a term well past that term's deadline, so the loop is not processing its
// timers. Being a follower, or the lock store being down, is healthy.
func (e *Elector) Healthy() error {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading && now.Sub(e.validUntil) > e.cfg.RenewInterval {
		return fmt.Errorf("election: loop wedged: term %d still open %v past its deadline", e.term.Fence, now.Sub(e.validUntil))
	}
	return nil
}

// update changes state under the lock and wakes every observer.
func (e *Elector) update(f func()) {
	e.mu.Lock()
	f()
	e.gen++
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// Resign steps down if leading, releases the lock at once so that another
// candidate can take it, and keeps this candidate out of the election for
// holdOff. A candidate that is not leading only starts the hold-off. It
// returns whether a held lock was released. Without a hold-off, this
// candidate competes again at once and may win again.
func (e *Elector) Resign(ctx context.Context, holdOff time.Duration) (bool, error) {
	if holdOff < 0 {
		return false, fmt.Errorf("election: hold-off %v must not be negative", holdOff)
	}
	req := &resignRequest{done: make(chan struct{})}
	var (
		running       bool
		cancelAcquire context.CancelFunc
	)
	e.update(func() {
		if until := e.cfg.Clock.Now().Add(holdOff); holdOff > 0 && until.After(e.holdOffUntil) {
			e.holdOffUntil = until
		}
		running = e.running
		if running {
			e.resigns = append(e.resigns, req)
			cancelAcquire = e.acquireCancel
		}
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
	select {
	case <-req.done:
		return req.released, nil
	case <-ctx.Done():
		return false, fmt.Errorf("election: resign: %w", context.Cause(ctx))
	}
}

// finishResigns answers every pending resign request.
func (e *Elector) finishResigns(released bool) {
	e.mu.Lock()
	reqs := e.resigns
	e.resigns = nil
	e.mu.Unlock()
	for _, r := range reqs {
		r.released = released
		close(r.done)
	}
}

func (e *Elector) pendingResign() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.resigns) > 0
}

// Run campaigns until ctx ends. On return this candidate has stepped down
// and, if it led, released the lock (within ReleaseTimeout). It returns nil
// after a shutdown through ctx.
func (e *Elector) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return ErrAlreadyRunning
	}
	e.mu.Unlock()
	e.update(func() { e.running = true })
	defer func() {
		e.update(func() { e.running = false })
		e.finishResigns(false)
	}()

	backoff := e.cfg.RetryPeriod
	for {
		if err := e.sleepHoldOff(ctx); err != nil {
			return nil
		}
		e.finishResigns(false)

		start := e.cfg.Clock.Now()
		actx, cancel := context.WithCancel(ctx)
		e.mu.Lock()
		e.acquireCancel = cancel
		e.mu.Unlock()
		lease, err := e.cfg.Locker.Acquire(actx, e.cfg.Identity, e.cfg.LeaseTTL, e.observe)
		e.mu.Lock()
		e.acquireCancel = nil
		e.mu.Unlock()
		interrupted := actx.Err() != nil
		cancel()

		switch {
		case ctx.Err() != nil:
			if lease != nil {
				e.releaseBounded(lease)
			}
			return nil
		case err != nil && interrupted:
			// Cancelled by Resign: go round to the hold-off.
			continue
		case err != nil:
			e.recordError("acquire", err)
			if e.sleep(ctx, jitter(backoff)) != nil {
				return nil
			}
			backoff = min(2*backoff, e.cfg.LeaseTTL)
			continue
		}
		backoff = e.cfg.RetryPeriod
		e.clearError()
		if e.pendingResign() || e.inHoldOff() {
			// Won the race with a Resign: give the lock straight back.
			e.releaseBounded(lease)
			continue
		}
		e.cfg.Recorder.AcquireWaited(e.cfg.Clock.Since(start))
		if e.lead(ctx, lease) == ReasonShutdown {
			return nil
		}
	}
}

// observe records the holder seen by a waiting Acquire.
func (e *Elector) observe(h Holder) {
	e.mu.Lock()
	same := e.holder.Identity == h.Identity && e.holder.Fence == h.Fence
	e.mu.Unlock()
	if same {
		return
	}
	e.update(func() { e.holder = h })
	e.cfg.Logger.Info("leader observed", "lock", e.cfg.Name, "identity", e.cfg.Identity, "holder", h.Identity, "fence", h.Fence)
	if e.cfg.OnNewLeader != nil {
		e.cfg.OnNewLeader(h.Identity)
	}
}

func (e *Elector) inHoldOff() bool {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	return now.Before(e.holdOffUntil)
}

// sleepHoldOff waits out a hold-off, which Resign may extend meanwhile.
func (e *Elector) sleepHoldOff(ctx context.Context) error {
	for {
		now := e.cfg.Clock.Now()
		e.mu.Lock()
		wait := e.holdOffUntil.Sub(now)
		e.mu.Unlock()
		if wait <= 0 {
			return ctx.Err()
		}
		e.finishResigns(false)
		if err := e.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sleep waits d on the elector's clock, or until ctx ends.
func (e *Elector) sleep(ctx context.Context, d time.Duration) error {
	t := e.cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Elector) recordError(op string, err error) {
	e.update(func() { e.lastErr = err })
	e.cfg.Logger.Error("lock "+op+" failed", "lock", e.cfg.Name, "identity", e.cfg.Identity, "err", err)
	e.cfg.Recorder.Error(op, err)
}

func (e *Elector) clearError() {
	e.mu.Lock()
	had := e.lastErr != nil
	e.mu.Unlock()
	if had {
		e.update(func() { e.lastErr = nil })
	}
}

// releaseBounded releases lease within ReleaseTimeout, whatever the state of
// the caller's context.
func (e *Elector) releaseBounded(lease Lease) bool {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ReleaseTimeout)
	defer cancel()
	if err := lease.Release(ctx); err != nil {
		e.recordError("release", err)
		return false
	}
	return true
}

// jitter spreads d by ±20%, so candidates that failed together do not retry
// together.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}
