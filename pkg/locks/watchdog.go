package locks

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// watchdog renews a Held's lease by keepAlive until stop.
// Until its first renew is due it is only a timer: a lock unlocked within
// a third of its TTL, which is most of them, costs no goroutine and no
// hand-over at Release.
//
// A release stops it first, so that no renew races the release, and
// resumes it when the release failed without proving the lease lost: the
// holder still holds, and the renews go on from the last successful one.
type watchdog struct {
	ctx      context.Context // values for the renews; never canceled
	now      func() time.Time
	ttl      time.Duration
	renew    func(context.Context) error
	markLost func(error)

	mu sync.Mutex
	// sentAt is when the last successful renew (or the acquire) was sent:
	// the lease is valid in Redis until sentAt + ttl at least.
	sentAt  time.Time
	gen     int // counts stops: a timer armed before the last one is stale
	timer   *time.Timer
	stopped bool
	gaveUp  bool               // keepAlive reported the lease lost
	cancel  context.CancelFunc // set once the renew loop has started
	done    chan struct{}      // closed when the renew loop has ended
}

// startWatchdog arms keepAlive for a lease of ttl whose acquire was sent
// at sentAt. ctx's values reach the renews; its cancellation does not:
// only stop ends the watchdog.
func startWatchdog(ctx context.Context, now func() time.Time, ttl time.Duration, sentAt time.Time,
	renew func(context.Context) error, markLost func(error)) *watchdog {
	w := &watchdog{ctx: context.WithoutCancel(ctx), now: now, ttl: ttl, renew: renew, markLost: markLost, sentAt: sentAt}
	w.mu.Lock()
	w.armLocked()
	w.mu.Unlock()
	return w
}

// armLocked starts the timer of the next renew, a third of the TTL after
// the last successful one was sent.
func (w *watchdog) armLocked() {
	gen := w.gen
	w.timer = time.AfterFunc(max(w.sentAt.Add(w.ttl/3).Sub(w.now()), 0), func() {
		w.mu.Lock()
		if w.stopped || w.gen != gen {
			w.mu.Unlock()
			return
		}
		lctx, cancel := context.WithCancel(w.ctx)
		w.cancel, w.done = cancel, make(chan struct{})
		done := w.done
		w.mu.Unlock()
		defer close(done)
		w.keepAlive(lctx)
	})
}

// stop ends the watchdog and returns once no renew can still run. It is
// idempotent, and a nil watchdog (a lease nothing renews) has nothing to
// stop.
func (w *watchdog) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stopped = true
	w.gen++
	w.timer.Stop()
	cancel, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// resume undoes stop after a release that failed with failure, without
// proving the lease lost: renews start again from the last successful one.
// A watchdog that gave up (Lost is closed) stays stopped. When the lease's
// validity ran out during the release, the holding is lost now: resume
// closes Lost itself and returns why (it matches ErrLost), so that the
// holder hears it from the failed release, not from a renew after it.
func (w *watchdog) resume(failure error) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if !w.stopped || w.gaveUp {
		w.mu.Unlock()
		return nil
	}
	validFor := w.ttl * 2 / 3
	if !w.now().Before(w.sentAt.Add(validFor)) {
		w.mu.Unlock()
		err := fmt.Errorf("%w: the release failed and no renew succeeded within %v of the last one, %v before the lease may expire: %w",
			ErrLost, validFor, w.ttl-validFor, failure)
		w.giveUp(err)
		return err
	}
	w.stopped = false
	w.armLocked()
	w.mu.Unlock()
	return nil
}

// bound returns ctx cut at the end of the lease's validity, two thirds of
// the TTL after the last successful renew was sent, for a release made
// while the watchdog is stopped: a release that has not succeeded by then
// fails, and resume reports the lease lost while a third of the TTL is
// still left. A nil watchdog, or one that gave up (Lost is closed: the
// release only cleans up), leaves ctx as it is.
func (w *watchdog) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if w == nil {
		return ctx, func() {}
	}
	w.mu.Lock()
	validUntil, gaveUp := w.sentAt.Add(w.ttl*2/3), w.gaveUp
	w.mu.Unlock()
	if gaveUp {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, max(validUntil.Sub(w.now()), 0))
}

// keepAlive renews every third of the TTL until ctx ends. A renew counts
// from the moment it was sent. If none succeeds within two thirds of the
// TTL of the last successful one, the lease is reported lost (markLost)
// while a third of the TTL is still left before it can expire in Redis.
func (w *watchdog) keepAlive(ctx context.Context) {
	interval := w.ttl / 3
	validFor := w.ttl * 2 / 3
	w.mu.Lock()
	validUntil := w.sentAt.Add(validFor)
	// The first renew is due a third of the TTL after the acquire (or the
	// last successful renew) was sent, not after its reply came: a slow
	// reply leaves less time.
	t := time.NewTimer(max(w.sentAt.Add(interval).Sub(w.now()), 0))
	w.mu.Unlock()
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := w.now()
		rctx, cancel := context.WithTimeout(ctx, max(validUntil.Sub(sent), 0))
		err := w.renew(rctx)
		cancel()
		switch {
		case err == nil:
			validUntil = sent.Add(validFor)
			w.mu.Lock()
			w.sentAt = sent
			w.mu.Unlock()
			t.Reset(interval)
		case lostOrForeign(err):
			w.giveUp(err)
			return
		case ctx.Err() != nil:
			return
		case !w.now().Before(validUntil):
			w.giveUp(fmt.Errorf("redislock: no renew succeeded within %v of the last one, %v before the lease may expire: %w",
				validFor, w.ttl-validFor, err))
			return
		default:
			// Transport error: try again soon, still within the validity.
			t.Reset(min(interval/3+time.Millisecond, validUntil.Sub(w.now())))
		}
	}
}

func (w *watchdog) giveUp(err error) {
	w.mu.Lock()
	w.gaveUp = true
	w.mu.Unlock()
	w.markLost(err)
}
