package lockcore

import (
	"context"
	"fmt"
	"time"
)

// Permit is one permit of a Semaphore as Redis holds it: its own lease,
// owner token and fence. Renew and Release are single calls; pkg/locks
// keeps the watchdog and the record of releases.
type Permit struct {
	sem      *Semaphore
	token    string
	identity string
	fence    uint64
	ttl      time.Duration
	sentAt   time.Time
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

// Name is the semaphore's name.
func (p *Permit) Name() string { return p.sem.lock.name }

// Ended tells the fence memory that the permit was released.
func (p *Permit) Ended() { p.sem.lock.opts.Fences.ended(p.sem.fenceKey, p.fence) }

// Renew extends the permit's lease to its TTL from now, while its token
// still holds it; an expired permit gives a *LostError (ErrLost).
func (p *Permit) Renew(ctx context.Context) error {
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

// Release gives the permit back, waking the next waiter. If the permit had
// expired, the error matches ErrNotHeld; any other error may mean it did
// not run, and a retry can release.
func (p *Permit) Release(ctx context.Context) error {
	l := p.sem.lock
	n, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) (int64, error) {
		return p.sem.release(ctx, p.token)
	}, nil)
	if err != nil {
		return fmt.Errorf("redislock: release permit of %q: %w", l.name, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: permit of %q (fence %d) had expired", ErrNotHeld, l.name, p.fence)
	}
	return nil
}
