package redislock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// watchdog renews a lease (a Locked or a Permit) by keepAlive until stop.
// Until its first renew is due it is only a timer: a lock unlocked within
// a third of its TTL, which is most of them, costs no goroutine and no
// hand-over at Unlock.
type watchdog struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
	cancel  context.CancelFunc // set once the renew loop has started
	done    chan struct{}      // closed when the renew loop has ended
}

// startWatchdog arms keepAlive for a lease of ttl whose acquire was sent
// at sentAt. ctx's values reach the renews; its cancellation does not:
// only stop ends the watchdog.
func startWatchdog(ctx context.Context, now func() time.Time, ttl time.Duration, sentAt time.Time,
	renew func(context.Context) error, markLost func(error)) *watchdog {
	w := &watchdog{}
	ctx = context.WithoutCancel(ctx)
	w.timer = time.AfterFunc(max(sentAt.Add(ttl/3).Sub(now()), 0), func() {
		w.mu.Lock()
		if w.stopped {
			w.mu.Unlock()
			return
		}
		lctx, cancel := context.WithCancel(ctx)
		w.cancel, w.done = cancel, make(chan struct{})
		done := w.done
		w.mu.Unlock()
		defer close(done)
		keepAlive(lctx, now, ttl, sentAt, renew, markLost)
	})
	return w
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
	w.timer.Stop()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// keepAlive renews every third of the TTL until ctx ends, for a Locked or
// a Permit. A renew counts from the moment it was sent. If none succeeds
// within two thirds of the TTL of the last successful one, the lease is
// reported lost (markLost) while a third of the TTL is still left before it
// can expire in Redis.
func keepAlive(ctx context.Context, now func() time.Time, ttl time.Duration, sentAt time.Time,
	renew func(context.Context) error, markLost func(error)) {
	interval := ttl / 3
	validFor := ttl * 2 / 3
	validUntil := sentAt.Add(validFor)
	// The first renew is due a third of the TTL after the acquire was
	// sent, not after its reply came: a slow reply leaves less time.
	t := time.NewTimer(max(sentAt.Add(interval).Sub(now()), 0))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := now()
		rctx, cancel := context.WithTimeout(ctx, max(validUntil.Sub(sent), 0))
		err := renew(rctx)
		cancel()
		switch {
		case err == nil:
			validUntil = sent.Add(validFor)
			t.Reset(interval)
		case lostOrForeign(err):
			markLost(err)
			return
		case ctx.Err() != nil:
			return
		case !now().Before(validUntil):
			markLost(fmt.Errorf("redislock: no renew succeeded within %v of the last one, %v before the lease may expire: %w",
				validFor, ttl-validFor, err))
			return
		default:
			// Transport error: try again soon, still within the validity.
			t.Reset(min(interval/3+time.Millisecond, validUntil.Sub(now())))
		}
	}
}
