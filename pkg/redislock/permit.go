package redislock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Permit is one permit of a Semaphore, with its own lease, owner token and
// fence. Release it when done.
type Permit struct {
	sem      *Semaphore
	token    string
	identity string
	fence    uint64
	ttl      time.Duration
	sentAt   time.Time

	watchdog *watchdog // nil for a permit with a lease time
	releases *releaseRecord
	lost     chan struct{}
	lostOnce sync.Once

	mu       sync.Mutex
	lostErr  error
	released bool
}

// Fence is the permit's fencing token: larger than that of every permit of
// this semaphore taken before it. The semaphore's fences are its own, not
// the lock's of the same name.
func (p *Permit) Fence() uint64 { return p.fence }

// Token is the permit's owner token, secret to the holder.
func (p *Permit) Token() string { return p.token }

// Identity is the holder identity stored with the permit.
func (p *Permit) Identity() string { return p.identity }

// TTL is the permit's lease time.
func (p *Permit) TTL() time.Duration { return p.ttl }

// SentAt is the local time just before the successful acquire was sent:
// the permit cannot expire in Redis before SentAt + TTL unless released.
func (p *Permit) SentAt() time.Time { return p.sentAt }

// Lost is closed when the watchdog (or Renew) finds the permit lost, or the
// watchdog can no longer be sure it holds it; Err then says why.
func (p *Permit) Lost() <-chan struct{} { return p.lost }

// Err is why the permit was lost, or nil.
func (p *Permit) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lostErr
}

func (p *Permit) markLost(err error) {
	p.lostOnce.Do(func() {
		p.mu.Lock()
		p.lostErr = err
		p.mu.Unlock()
		close(p.lost)
	})
}

// Renew extends the permit's lease to its TTL from now, while its token
// still holds it. A permit that expired gives a *LostError (ErrLost) and
// closes Lost: it is never revived, as another holder may have its place.
// After Release it gives ErrNotHeld. The call is bounded by ctx and by
// Options.AttemptTimeout.
func (p *Permit) Renew(ctx context.Context) error {
	p.mu.Lock()
	released := p.released
	p.mu.Unlock()
	if released {
		return fmt.Errorf("%w: permit of %q (fence %d) was already released", ErrNotHeld, p.sem.lock.name, p.fence)
	}
	err := p.releases.renewing(p.renew)(ctx)
	if lostOrForeign(err) {
		p.markLost(err)
	}
	return err
}

func (p *Permit) renew(ctx context.Context) error {
	l := p.sem.lock
	reply, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) ([]any, error) {
		return p.sem.renew(ctx, p.token, p.fence, p.ttl)
	}, nil)
	if err != nil {
		return fmt.Errorf("redislock: renew permit of %q: %w", l.name, err)
	}
	switch kind(reply) {
	case "ok":
		return nil
	case "lost":
		return &LostError{Lock: l.name}
	case "foreign":
		return foreignError(reply)
	}
	return unexpected(reply)
}

// Release stops the watchdog and gives the permit back, waking the next
// waiter. If the permit had expired, or was released already, nothing
// changes and the error matches ErrNotHeld. The call is bounded by ctx and
// by Options.AttemptTimeout. A release that fails for another reason
// leaves the permit held, as Locked.Unlock does: a retry releases, and the
// watchdog renews on or closes Lost.
func (p *Permit) Release(ctx context.Context) error {
	p.mu.Lock()
	released := p.released
	p.released = true
	p.mu.Unlock()
	if released {
		return fmt.Errorf("%w: permit of %q (fence %d) was already released", ErrNotHeld, p.sem.lock.name, p.fence)
	}
	err := p.releases.release(ctx, p.watchdog, p.release)
	if err != nil && !releaseFinal(err) {
		p.mu.Lock()
		p.released = false
		p.mu.Unlock()
	}
	return err
}

func (p *Permit) release(ctx context.Context) error {
	l := p.sem.lock
	n, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) (int64, error) {
		return p.sem.release(ctx, p.token)
	}, nil)
	if err != nil {
		// It may not have run: the caller can try again.
		return fmt.Errorf("redislock: release permit of %q: %w", l.name, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: permit of %q (fence %d) had expired", ErrNotHeld, l.name, p.fence)
	}
	return nil
}
