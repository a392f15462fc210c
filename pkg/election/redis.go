package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-dev/baton/pkg/redislock"
)

// RedisLocker adapts a redislock.Lock to the Locker interface. The lock's
// Options.Now must be the elector's clock (both default to the real clock).
func RedisLocker(lock *redislock.Lock) Locker { return redisLocker{lock: lock} }

type redisLocker struct{ lock *redislock.Lock }

func (r redisLocker) Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(Holder)) (Lease, error) {
	var seen func(redislock.Holder)
	if onHeld != nil {
		seen = func(h redislock.Holder) {
			onHeld(Holder{Identity: h.Identity, Fence: h.Fence, Remaining: h.Remaining})
		}
	}
	lease, err := r.lock.Acquire(ctx, identity, ttl, seen)
	if err != nil {
		return nil, err
	}
	return redisLease{lease}, nil
}

type redisLease struct{ *redislock.Lease }

// Renew maps redislock's "lost" and "foreign" outcomes to ErrLost: in both
// cases this term no longer owns the key.
func (l redisLease) Renew(ctx context.Context) error {
	err := l.Lease.Renew(ctx)
	if errors.Is(err, redislock.ErrLost) || errors.Is(err, redislock.ErrForeign) {
		return fmt.Errorf("%w: %w", ErrLost, err)
	}
	return err
}
