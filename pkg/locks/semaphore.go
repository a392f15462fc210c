package locks

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/redislock"
)

// Semaphore is a counting semaphore on Redis: at most its number of
// permits are held at once, each with its own lease, owner token and fence.
// Every user of one name must give the same number (see ErrPermits). It is
// safe for concurrent use.
type Semaphore struct {
	core *lockcore.Semaphore
}

// NewSemaphore returns the semaphore of permits permits (1 to MaxPermits)
// named name on client. It validates its arguments but makes no Redis call;
// Options.Lease.MinReplicas must be 0.
func NewSemaphore(client redislock.Client, name string, permits int, opts Options) (*Semaphore, error) {
	s, err := lockcore.NewSemaphore(client, name, permits, lockcore.SemaphoreOptions{Options: opts.core(), Fair: opts.Fair})
	if err != nil {
		return nil, err
	}
	return &Semaphore{core: s}, nil
}

// Name is the semaphore's name.
func (s *Semaphore) Name() string { return s.core.Name() }

// Permits is the number of permits.
func (s *Semaphore) Permits() int { return s.core.Permits() }

// TryLock takes one permit, with Mutex.TryLock's waitTime and leaseTime;
// when the wait runs out, the *HeldError names the permit that expires
// first. It is never reentrant.
func (s *Semaphore) TryLock(ctx context.Context, waitTime, leaseTime time.Duration) (*Held, error) {
	if leaseTime < 0 {
		return nil, fmt.Errorf("%w: lease time %v must not be negative", ErrInvalid, leaseTime)
	}
	opts := s.core.Opts()
	ttl := leaseTime
	if ttl == 0 {
		ttl = opts.WatchdogTimeout.Truncate(time.Millisecond)
	}
	if err := lockcore.CheckTTL(ttl); err != nil {
		return nil, err
	}
	p, err := waitFor(ctx, waitTime,
		func(ctx context.Context) (*lockcore.Permit, error) { return s.core.TryOnce(ctx, ttl) },
		func(ctx context.Context, onHeld func(*HeldError)) (*lockcore.Permit, error) {
			return s.core.Wait(ctx, ttl, onHeld)
		})
	if err != nil {
		return nil, err
	}
	h := newHeld(p, "permit", opts.Now)
	if leaseTime == 0 {
		h.watch(ctx, opts.Now)
	}
	return h, nil
}

// SemaphoreInfo is what Inspect reads of a semaphore.
type SemaphoreInfo = lockcore.SemaphoreInfo

// PermitInfo is one permit held, in a SemaphoreInfo.
type PermitInfo = lockcore.PermitInfo

// Inspect reads the semaphore's permits and queue without writing.
func (s *Semaphore) Inspect(ctx context.Context) (SemaphoreInfo, error) { return s.core.Inspect(ctx) }
