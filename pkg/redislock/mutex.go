package redislock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Locked is a lock taken with TryLock. Call Unlock when done.
type Locked struct {
	lease *Lease

	stop     context.CancelFunc
	stopped  chan struct{} // closed when the watchdog has exited
	lost     chan struct{}
	lostOnce sync.Once
	mu       sync.Mutex
	lostErr  error
}

// TryLock takes the lock for application code that needs a plain mutex
// across servers, in the manner of Redisson's tryLock(waitTime, leaseTime).
//
// waitTime bounds how long to wait while another owner holds the lock: 0
// makes a single attempt, and a negative value waits as long as ctx allows.
// When it runs out the error matches ErrTimeout.
//
// With leaseTime > 0 the lock expires leaseTime after it was taken unless
// Unlock comes first; nothing renews it. With leaseTime == 0 a watchdog
// keeps it: the TTL is Options.WatchdogTimeout, renewed every third of it
// until Unlock. If the watchdog finds the lease lost, or cannot renew it
// before it may have expired, Lost() is closed.
func (l *Lock) TryLock(ctx context.Context, waitTime, leaseTime time.Duration) (*Locked, error) {
	if leaseTime < 0 {
		return nil, fmt.Errorf("%w: lease time %v must not be negative", ErrInvalid, leaseTime)
	}
	ttl := leaseTime
	if ttl == 0 {
		ttl = l.opts.WatchdogTimeout.Truncate(time.Millisecond)
	}
	var (
		lease *Lease
		err   error
	)
	switch {
	case waitTime == 0:
		lease, err = l.TryAcquire(ctx, l.opts.Identity, ttl)
		if errors.Is(err, ErrHeld) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
	case waitTime < 0:
		lease, err = l.Acquire(ctx, l.opts.Identity, ttl, nil)
	default:
		wctx, cancel := context.WithTimeoutCause(ctx, waitTime, ErrTimeout)
		lease, err = l.Acquire(wctx, l.opts.Identity, ttl, nil)
		cancel()
	}
	if err != nil {
		return nil, err
	}
	m := &Locked{lease: lease, lost: make(chan struct{}), stopped: make(chan struct{})}
	if leaseTime > 0 {
		close(m.stopped)
		m.stop = func() {}
		return m, nil
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.stop = cancel
	go m.watchdog(wctx)
	return m, nil
}

// Fence is the lock's fencing token.
func (m *Locked) Fence() uint64 { return m.lease.Fence() }

// Lease is the underlying lease.
func (m *Locked) Lease() *Lease { return m.lease }

// Lost is closed when the watchdog finds the lock lost; Err then says why.
func (m *Locked) Lost() <-chan struct{} { return m.lost }

// Err is why the lock was lost, or nil.
func (m *Locked) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lostErr
}

// Unlock stops the watchdog and releases the lock. It returns ErrNotHeld if
// the lock had already expired or been taken over.
func (m *Locked) Unlock(ctx context.Context) error {
	m.stop()
	<-m.stopped
	return m.lease.Release(ctx)
}

func (m *Locked) markLost(err error) {
	m.lostOnce.Do(func() {
		m.mu.Lock()
		m.lostErr = err
		m.mu.Unlock()
		close(m.lost)
	})
}

// watchdog renews every third of the TTL. A renew counts from the moment it
// was sent; if none succeeds within the TTL the lease may be gone, and the
// lock is reported lost.
func (m *Locked) watchdog(ctx context.Context) {
	defer close(m.stopped)
	ttl := m.lease.ttl
	interval := ttl / 3
	validUntil := m.lease.sentAt.Add(ttl)
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := m.lease.lock.opts.Now()
		rctx, cancel := context.WithDeadline(ctx, validUntil)
		err := m.lease.Renew(rctx)
		cancel()
		switch {
		case err == nil:
			validUntil = sent.Add(ttl)
			t.Reset(interval)
		case errors.Is(err, ErrLost), errors.Is(err, ErrForeign):
			m.markLost(err)
			return
		case ctx.Err() != nil:
			return
		case !m.lease.lock.opts.Now().Before(validUntil):
			m.markLost(fmt.Errorf("redislock: no renew succeeded within the TTL: %w", err))
			return
		default:
			// Transport error: try again soon, still within the TTL.
			t.Reset(min(interval/3+time.Millisecond, time.Until(validUntil)))
		}
	}
}
