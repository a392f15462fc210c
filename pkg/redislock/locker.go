package redislock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-dev/baton/pkg/lease"
)

// NewLocker adapts l to the elector's storage seam, lease.Locker. l's
// Options.Now must be the elector's clock (both default to the same).
func NewLocker(l *Lock) lease.Locker { return locker{l} }

type locker struct{ lock *Lock }

func (r locker) Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(lease.Holder)) (lease.Lease, error) {
	var seen func(Holder)
	if onHeld != nil {
		seen = func(h Holder) {
			onHeld(lease.Holder{Identity: h.Identity, Fence: h.Fence, Remaining: h.Remaining})
		}
	}
	l, err := r.lock.Acquire(ctx, identity, ttl, seen)
	if err != nil {
		return nil, err
	}
	return term{l}, nil
}

type term struct{ *Lease }

// Renew maps "lost" and "foreign" to lease.ErrLost: in both cases this
// term no longer owns the key.
func (t term) Renew(ctx context.Context) error {
	err := t.Lease.Renew(ctx)
	if errors.Is(err, ErrLost) || errors.Is(err, ErrForeign) {
		return fmt.Errorf("%w: %w", lease.ErrLost, err)
	}
	return err
}
