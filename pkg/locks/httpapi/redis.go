package httpapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/pkg/redislock"
)

// DefaultLocksPrefix is the key prefix of the application's locks and
// semaphores. The election's keys start with its own prefix (default
// "baton"); lock names hold no ':' or braces, so two keys are equal only
// when their prefixes are: baton-locks:{job}:lease is never baton:{job}:lease.
const DefaultLocksPrefix = "baton-locks"

// ErrUnsupported means the lock backend cannot serve a call (such as a
// library without fair locks); the API answers 501.
var ErrUnsupported = errors.New("httpapi: not supported by the lock backend")

// RedisLocksOptions configures RedisLocks. Zero values take the documented
// defaults.
type RedisLocksOptions struct {
	// Prefix starts every key. Default DefaultLocksPrefix. It must differ
	// from the election's prefix, or a lock named like the election's lock
	// would be the same keys.
	Prefix string
	// Identity is the holder identity stored with every lease, shown by
	// GET and in a 409. Default: redislock's, "<hostname>:<pid>".
	Identity string
	// AttemptTimeout and SubscribeTimeout bound each Redis call and
	// subscription (redislock.Options). Default: redislock's, 5s each.
	AttemptTimeout   time.Duration
	SubscribeTimeout time.Duration
	// KeyGrace is how long a lock's or semaphore's keys outlive its last
	// lease (locks.Options.KeyGrace). Default: pkg/locks's, 10s.
	KeyGrace time.Duration
	// RememberNames bounds the fences and lease ends the backend remembers
	// (locks.FenceMemory), one per lock or semaphore name. Default
	// locks.DefaultFenceMemory (4096).
	RememberNames int
}

// RedisLocks is the LockBackend on pkg/redislock. Each call builds its lock
// or semaphore from the name, which makes no Redis call. What outlives the
// call is one locks.FenceMemory for all of them: the highest fence and
// the latest lease end this backend issued or saw, per name, so that after
// Redis lost its data (FLUSHALL, a restart without persistence) the
// backend never grants a name again while a lease it issued on it can
// still be valid.
type RedisLocks struct {
	client redislock.Client
	opts   locks.Options
}

var _ LockBackend = (*RedisLocks)(nil)

// NewRedisLocks returns the backend on client. It validates the options
// (ErrInvalidOptions) but makes no Redis call.
func NewRedisLocks(client redislock.Client, o RedisLocksOptions) (*RedisLocks, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: NewRedisLocks needs a Redis client (got nil)", ErrInvalidOptions)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultLocksPrefix
	}
	fences, err := locks.NewFenceMemory(o.RememberNames)
	if err != nil {
		return nil, fmt.Errorf("%w: RedisLocksOptions: %w", ErrInvalidOptions, err)
	}
	opts := locks.Options{
		Lease:    redislock.Options{Prefix: o.Prefix, AttemptTimeout: o.AttemptTimeout, SubscribeTimeout: o.SubscribeTimeout},
		Identity: o.Identity, KeyGrace: o.KeyGrace, Fences: fences,
	}
	// One lock built now checks the options with the library's own rules.
	if _, err := locks.NewMutex(client, "check", opts); err != nil {
		return nil, fmt.Errorf("%w: RedisLocksOptions: %w", ErrInvalidOptions, err)
	}
	return &RedisLocks{client: client, opts: opts}, nil
}

func (b *RedisLocks) lock(name string, p AcquireParams) (*locks.Mutex, error) {
	opts := b.opts
	opts.Fair = p.Fair
	if p.Watchdog {
		opts.WatchdogTimeout = p.Lease
	}
	l, err := locks.NewMutex(b.client, name, opts)
	if err != nil {
		return nil, fmt.Errorf("httpapi: lock %q: %w", name, err)
	}
	return l, nil
}

// Acquire implements LockBackend: Mutex.TryLock, fair with p.Fair, for a
// lock, Semaphore.TryLock on a semaphore of r.Permits (fair with p.Fair).
func (b *RedisLocks) Acquire(ctx context.Context, r Resource, p AcquireParams) (Holding, error) {
	lease := p.Lease
	if p.Watchdog {
		lease = 0 // the watchdog's TTL is WatchdogTimeout, set to p.Lease
	}
	switch r.Kind {
	case KindLock:
		l, err := b.lock(r.Name, p)
		if err != nil {
			return nil, err
		}
		h, err := l.TryLock(ctx, p.Wait, lease)
		if err != nil {
			return nil, err
		}
		return h, nil
	case KindSemaphore:
		s, err := b.semaphore(r, p)
		if err != nil {
			return nil, err
		}
		permit, err := s.TryLock(ctx, p.Wait, lease)
		if err != nil {
			return nil, err
		}
		return permit, nil
	}
	return nil, fmt.Errorf("%w: kind %q", ErrUnsupported, r.Kind)
}

func (b *RedisLocks) semaphore(r Resource, p AcquireParams) (*locks.Semaphore, error) {
	opts := b.opts
	opts.Fair = p.Fair
	if p.Watchdog {
		opts.WatchdogTimeout = p.Lease
	}
	s, err := locks.NewSemaphore(b.client, r.Name, r.Permits, opts)
	if err != nil {
		return nil, fmt.Errorf("httpapi: semaphore %q: %w", r.Name, err)
	}
	return s, nil
}

// Inspect implements LockBackend.
func (b *RedisLocks) Inspect(ctx context.Context, r Resource) (ResourceInfo, error) {
	switch r.Kind {
	case KindLock:
		l, err := b.lock(r.Name, AcquireParams{})
		if err != nil {
			return ResourceInfo{}, err
		}
		info, err := l.Inspect(ctx)
		if err != nil {
			return ResourceInfo{}, err
		}
		out := ResourceInfo{Fence: info.Fence, Queue: info.Queue}
		if info.Held {
			// In quarantine the holder has no identity: held all the same.
			out.Holders = []HolderInfo{{Identity: info.Holder, Fence: info.Fence, Remaining: info.Remaining}}
		}
		return out, nil
	case KindSemaphore:
		s, err := b.semaphore(r, AcquireParams{})
		if err != nil {
			return ResourceInfo{}, err
		}
		info, err := s.Inspect(ctx)
		if err != nil {
			return ResourceInfo{}, err
		}
		out := ResourceInfo{Queue: info.Queue}
		for _, h := range info.Holders {
			out.Holders = append(out.Holders, HolderInfo(h))
		}
		return out, nil
	}
	return ResourceInfo{}, fmt.Errorf("%w: kind %q", ErrUnsupported, r.Kind)
}

// A *locks.Held is a Holding as it is.
var _ Holding = (*locks.Held)(nil)
