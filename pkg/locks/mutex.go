package locks

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/redislock"
)

// Mutex is one named application lock on Redis, plain or fair. It is safe
// for concurrent use; each TryLock makes a new owner token.
type Mutex struct {
	core *lockcore.Lock
	fair bool
	// reentry names the lock in an owner's map: see reentry.go.
	reentry any
}

// NewMutex returns the lock named name on client. It validates name and
// options but makes no Redis call.
func NewMutex(client redislock.Client, name string, opts Options) (*Mutex, error) {
	l, err := lockcore.New(client, name, opts.core())
	if err != nil {
		return nil, err
	}
	return &Mutex{core: l, fair: opts.Fair, reentry: reentryKeyOf(l)}, nil
}

// Name is the lock's name.
func (m *Mutex) Name() string { return m.core.Name() }

// TryLock takes the lock, as Redisson's tryLock(waitTime, leaseTime) does.
// waitTime 0 makes one try (a fair lock's succeeds only with nobody
// queued); a negative one waits as long as ctx allows; when it runs out the
// error matches ErrTimeout, and ErrHeld once a try saw the lock held.
// leaseTime > 0 is a lease nothing renews but Held.Renew; 0 starts a
// watchdog with Options.WatchdogTimeout. Under WithOwner it is reentrant.
func (m *Mutex) TryLock(ctx context.Context, waitTime, leaseTime time.Duration) (*Held, error) {
	if leaseTime < 0 {
		return nil, fmt.Errorf("%w: lease time %v must not be negative", ErrInvalid, leaseTime)
	}
	o := ownerFrom(ctx)
	if o != nil {
		if h := o.holding(m.reentry); h != nil {
			if h, ok, err := h.reenter(ctx); ok {
				return h, err
			}
		}
	}
	opts := m.core.Opts()
	ttl := leaseTime
	if ttl == 0 {
		ttl = opts.WatchdogTimeout.Truncate(time.Millisecond)
	}
	once, wait := m.core.TryApp, m.core.WaitApp
	if m.fair {
		once, wait = m.core.TryFair, m.core.WaitFair
	}
	lease, err := waitFor(ctx, waitTime,
		func(ctx context.Context) (*lockcore.Lease, error) { return once(ctx, opts.Identity, ttl) },
		func(ctx context.Context, onHeld func(*HeldError)) (*lockcore.Lease, error) {
			return wait(ctx, opts.Identity, ttl, onHeld)
		})
	if err != nil {
		return nil, err
	}
	h := newHeld(lease, "lock", opts.Now)
	if o != nil {
		o.hold(m.reentry, h)
	}
	if leaseTime == 0 {
		h.watch(ctx, opts.Now)
	}
	return h, nil
}

// Inspect reads the lock's holder and queue without writing.
func (m *Mutex) Inspect(ctx context.Context) (redislock.Info, error) { return m.core.Inspect(ctx) }
