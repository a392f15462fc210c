package election

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/baton-dev/baton/internal/backoff"
)

// Elector campaigns for one lock and keeps it while it can.
type Elector struct {
	cfg Config
	// log carries the lock and identity on every line.
	log *slog.Logger

	mu sync.Mutex
	// changed is closed, and replaced, at every change of state.
	changed      chan struct{}
	gen          uint64
	running      bool
	leading      bool
	term         Term
	validUntil   time.Time // on cfg.Clock
	holder       Holder
	holdOffUntil time.Time
	lastErr      error
	lastReason   StepDownReason // why the latest term ended
	lastFence    uint64         // the fence of the latest term that ended
	// acquireCancel interrupts the Acquire in flight, if any.
	acquireCancel context.CancelFunc
	// resignEpoch grows with every Resign. A campaign notes it when its
	// Acquire starts, and does not lead on what it won if it has changed.
	resignEpoch uint64
	// resigns are the Resign calls waiting for the current term to end.
	resigns []*resignRequest
	// withdrawn is set by Withdraw: no new term until Run returns.
	withdrawn bool

	// kick wakes the loop for a Resign: out of a hold-off, or out of a term.
	kick chan struct{}
}

// New validates cfg, fills in its defaults, and returns an elector. It makes
// no call to the Locker.
func New(cfg Config) (*Elector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Elector{
		cfg:     cfg,
		log:     cfg.Logger.With("lock", cfg.Name, "identity", cfg.Identity),
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}, nil
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
	s.Withdrawn = e.withdrawn
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
		return fmt.Errorf("%w: term %d still open %v past its deadline", ErrWedged, e.term.Fence, now.Sub(e.validUntil))
	}
	return nil
}

// update changes state under the lock and wakes every observer.
func (e *Elector) update(f func()) {
	e.mu.Lock()
	f()
	e.notifyLocked()
	e.mu.Unlock()
}

// notifyLocked wakes every observer; e.mu is held.
func (e *Elector) notifyLocked() {
	e.gen++
	close(e.changed)
	e.changed = make(chan struct{})
}

// Run campaigns until ctx ends. On return this candidate has stepped down
// and, if it led, released the lock (see Config.ReleaseTimeout). It returns
// nil after a shutdown through ctx.
func (e *Elector) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return ErrAlreadyRunning
	}
	e.running = true
	e.notifyLocked()
	e.mu.Unlock()
	defer func() {
		e.update(func() { e.running, e.withdrawn = false, false })
		e.finishResigns(false)
	}()

	wait := e.cfg.RetryPeriod
	for {
		if err := e.sleepHoldOff(ctx); err != nil {
			return nil
		}
		lease, epoch, err := e.acquire(ctx)
		switch {
		case ctx.Err() != nil:
			if lease != nil {
				e.releaseBounded(lease)
			}
			return nil
		case err != nil && e.resignedSince(epoch):
			// Interrupted by Resign: go round to the hold-off.
			continue
		case err != nil:
			e.recordError("acquire", err)
			if e.sleep(ctx, backoff.Jitter(wait)) != nil {
				return nil
			}
			wait = min(2*wait, e.cfg.LeaseTTL)
			continue
		}
		wait = e.cfg.RetryPeriod
		e.clearError()
		t := e.begin(ctx, lease, epoch)
		if t == nil {
			continue
		}
		if e.lead(ctx, t) == ReasonShutdown {
			return nil
		}
		// One process never runs two terms' work at once.
		if e.awaitWork(ctx, t) != nil {
			return nil
		}
	}
}

// acquire runs one Acquire that Resign can interrupt. epoch is the resign
// epoch in force when it started: the cancel function is stored in the same
// critical section, so a Resign either cancels this Acquire or changed the
// epoch before it, and begin then sees that.
func (e *Elector) acquire(ctx context.Context) (lease Lease, epoch uint64, err error) {
	start := e.cfg.Clock.Now()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	epoch = e.resignEpoch
	e.acquireCancel = cancel
	e.mu.Unlock()
	lease, err = e.cfg.Locker.Acquire(actx, e.cfg.Identity, e.cfg.LeaseTTL, e.observe)
	e.mu.Lock()
	e.acquireCancel = nil
	e.mu.Unlock()
	if err == nil {
		e.cfg.Recorder.AcquireWaited(e.cfg.Clock.Since(start))
	}
	return lease, epoch, err
}

func (e *Elector) resignedSince(epoch uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resignEpoch != epoch
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
	e.log.Info("leader observed", "holder", h.Identity, "fence", h.Fence)
	if e.cfg.OnNewLeader != nil {
		e.cfg.OnNewLeader(h.Identity)
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
	e.log.Error("lock "+op+" failed", "err", err)
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
