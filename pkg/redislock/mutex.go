package redislock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Locked is a lock taken with TryLock. Call Unlock when done, once per
// TryLock that returned it.
type Locked struct {
	lease *Lease

	watchdog *watchdog // nil for a lock with a lease time
	releases *releaseRecord
	lost     chan struct{}
	lostOnce sync.Once

	// owner and ownerKey are set for a lock taken under WithOwner.
	owner    *owner
	ownerKey any

	mu      sync.Mutex
	lostErr error
	holds   int // TryLocks not yet unlocked: 1, more after re-entry
}

// TryLock takes the lock for application code that needs a plain mutex
// across servers, in the manner of Redisson's tryLock(waitTime, leaseTime).
//
// waitTime bounds how long to wait while another owner holds the lock: 0
// makes a single attempt, and a negative value waits as long as ctx allows.
// When it runs out the error matches ErrTimeout, and also ErrHeld (a
// *HeldError with the holder last seen) once a try has seen the lock
// held; the caller holds nothing: an acquire cut short is released by its
// owner token.
//
// With leaseTime > 0 the lock expires leaseTime after it was taken unless
// Unlock comes first; nothing renews it. With leaseTime == 0 a watchdog
// keeps it: the TTL is Options.WatchdogTimeout, renewed every third of it
// until Unlock. If the watchdog finds the lease lost, or no renew has
// succeeded for two thirds of the TTL since the last successful one was
// sent, Lost() is closed: a third of the TTL before the lease can expire in
// Redis, as the elector keeps a margin before its lease expiry. That third
// is the application's time to see Lost and stop, and it absorbs clock
// drift between this host and Redis. The TTL counts from the moment the
// acquire was sent: if its reply comes two thirds of the TTL later or
// more, TryLock returns the lock with Lost already closed (check it before
// starting), since the lease may have expired in Redis meanwhile.
//
// Under a context from WithOwner, TryLock is reentrant for that owner.
func (l *Lock) TryLock(ctx context.Context, waitTime, leaseTime time.Duration) (*Locked, error) {
	return l.tryLock(ctx, waitTime, leaseTime, l.tryAppOnce, l.acquireAppWaiting)
}

// tryLock is TryLock and TryLockFair, with their single try (once) and
// their waiting (wait).
func (l *Lock) tryLock(ctx context.Context, waitTime, leaseTime time.Duration,
	once func(ctx context.Context, identity string, ttl time.Duration) (*Lease, error),
	wait func(ctx context.Context, identity string, ttl time.Duration, onHeld func(*HeldError)) (*Lease, error),
) (*Locked, error) {
	if leaseTime < 0 {
		return nil, fmt.Errorf("%w: lease time %v must not be negative", ErrInvalid, leaseTime)
	}
	o := ownerFrom(ctx)
	if o != nil {
		if m := o.holding(l.reentryKey); m != nil {
			if m, ok, err := m.reenter(ctx); ok {
				return m, err
			}
		}
	}
	ttl := leaseTime
	if ttl == 0 {
		ttl = l.opts.WatchdogTimeout.Truncate(time.Millisecond)
	}
	lease, err := waitFor(ctx, waitTime,
		func(ctx context.Context) (*Lease, error) { return once(ctx, l.opts.Identity, ttl) },
		func(ctx context.Context, onHeld func(*HeldError)) (*Lease, error) {
			return wait(ctx, l.opts.Identity, ttl, onHeld)
		})
	if err != nil {
		return nil, err
	}
	m := &Locked{lease: lease, lost: make(chan struct{}), holds: 1,
		releases: newReleaseRecord(l.opts.Now, ttl, lease.sentAt, func() { l.opts.Fences.ended(l.fenceKey, lease.fence) })}
	if o != nil {
		o.hold(l.reentryKey, m)
	}
	if leaseTime > 0 {
		return m, nil
	}
	if err := lateReply(l.opts.Now, ttl, lease.sentAt); err != nil {
		m.markLost(err)
		return m, nil
	}
	m.watchdog = startWatchdog(ctx, l.opts.Now, ttl, lease.sentAt, m.releases.renewing(lease.Renew), m.markLost)
	return m, nil
}

// waitFor applies the waitTime of TryLock, TryLockFair and
// Semaphore.TryAcquire: 0 makes the single try once, a negative value
// waits as long as ctx allows, and a positive one at most that long. When
// the wait runs out, the error matches ErrTimeout, and also ErrHeld with
// the last *HeldError seen, so that the caller can tell who held it.
func waitFor[T any](ctx context.Context, waitTime time.Duration,
	once func(context.Context) (T, error),
	wait func(context.Context, func(*HeldError)) (T, error),
) (T, error) {
	var last *HeldError
	onHeld := func(h *HeldError) { last = h }
	var (
		v   T
		err error
	)
	switch {
	case waitTime == 0:
		v, err = once(ctx)
		if errors.Is(err, ErrHeld) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		return v, err
	case waitTime < 0:
		v, err = wait(ctx, onHeld)
	default:
		wctx, cancel := context.WithTimeoutCause(ctx, waitTime, ErrTimeout)
		v, err = wait(wctx, onHeld)
		cancel()
	}
	if err != nil && last != nil && errors.Is(err, ErrTimeout) && !errors.Is(err, ErrHeld) {
		err = fmt.Errorf("%w; last seen: %w", err, last)
	}
	return v, err
}

// Fence is the lock's fencing token.
func (m *Locked) Fence() uint64 { return m.lease.Fence() }

// Token is the lease's owner token, secret to the holder: it identifies the
// holder to Redis, as in the sidecar API's renew and release.
func (m *Locked) Token() string { return m.lease.Token() }

// TTL is the lease time: leaseTime, or Options.WatchdogTimeout under the
// watchdog.
func (m *Locked) TTL() time.Duration { return m.lease.TTL() }

// Renew extends the lease to its TTL from now, for a lock taken with a
// leaseTime that nothing renews by itself (under the watchdog it is
// harmless). A lease gone or taken over gives a *LostError (ErrLost) and
// closes Lost; a lock already fully unlocked gives ErrNotHeld. Any other
// error is a transport or server error, and the lock may still be held.
func (m *Locked) Renew(ctx context.Context) error {
	if m.Holds() == 0 {
		return fmt.Errorf("%w: lock %q was already unlocked", ErrNotHeld, m.lease.lock.name)
	}
	err := m.releases.renewing(m.lease.Renew)(ctx)
	if lostOrForeign(err) {
		m.markLost(err)
	}
	return err
}

// Lease is the underlying lease.
func (m *Locked) Lease() *Lease { return m.lease }

// Lost is closed when the watchdog (or a re-entry under WithOwner) finds the
// lock lost, or the watchdog can no longer be sure it holds it; Err then
// says why.
func (m *Locked) Lost() <-chan struct{} { return m.lost }

// Err is why the lock was lost, or nil.
func (m *Locked) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lostErr
}

// Holds is the number of TryLocks of this lock not yet unlocked: 1, or
// more after re-entries under WithOwner; 0 once fully unlocked.
func (m *Locked) Holds() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.holds
}

// Unlock undoes one TryLock. At the last hold it stops the watchdog and
// releases the lock; it returns ErrNotHeld if the lock had already expired
// or been taken over, or was already fully unlocked.
//
// A release that fails for another reason (a transport or server error)
// leaves the lock held, as if Unlock had not been called: the hold is
// counted again, so a retry releases, and the watchdog renews on from its
// last successful renew. Stop using the lock all the same: the release may
// have run in Redis with only its reply lost. A retry that then finds the
// lease gone, while it could not have expired yet, returns nil. Under the watchdog the release is cut where Lost
// would close, two thirds of the TTL after the last successful renew was
// sent; a release that fails there closes Lost, and its error matches
// ErrLost: the holding has ended, and the lease expires by its TTL.
func (m *Locked) Unlock(ctx context.Context) error {
	m.mu.Lock()
	holds := m.holds
	if holds > 0 {
		m.holds--
	}
	m.mu.Unlock()
	switch {
	case holds > 1:
		return nil
	case holds == 0:
		return fmt.Errorf("%w: lock %q was already unlocked", ErrNotHeld, m.lease.lock.name)
	}
	err := m.releases.release(ctx, m.watchdog, m.lease.Release)
	if err != nil && !releaseFinal(err) {
		m.mu.Lock()
		m.holds++
		m.mu.Unlock()
		return err
	}
	if m.owner != nil {
		m.owner.forget(m.ownerKey, m)
	}
	return err
}

func (m *Locked) markLost(err error) {
	m.lostOnce.Do(func() {
		m.mu.Lock()
		m.lostErr = err
		m.mu.Unlock()
		close(m.lost)
	})
}

func lostOrForeign(err error) bool {
	return errors.Is(err, ErrLost) || errors.Is(err, ErrForeign)
}

// lateReply is the error for a watchdog lease whose acquire's reply came
// when two thirds of its TTL since sentAt had passed: the watchdog could
// not keep its promise to close Lost a third of the TTL before the lease
// can expire, and the lease may already have expired in Redis and been
// taken by another owner. The caller gets the lock with Lost closed.
func lateReply(now func() time.Time, ttl time.Duration, sentAt time.Time) error {
	validFor := ttl * 2 / 3
	if took := now().Sub(sentAt); took >= validFor {
		return fmt.Errorf("%w: the acquire's reply came %v after it was sent, past the %v a watchdog lease of TTL %v is valid for",
			ErrLost, took, validFor, ttl)
	}
	return nil
}
