// Package lease is the storage seam of an elector, as client-go's
// resourcelock.Interface is: pkg/election talks to a Locker and never
// knows what backs it. pkg/redislock's NewLocker is the Redis backend.
package lease

import (
	"context"
	"errors"
	"time"
)

// ErrLost is what a Lease's Renew returns (wrapped) when the lease is gone
// or someone else's: the holder must stop at once.
//
// Its text is the elector's, as before the seam had a package of its own.
var ErrLost = errors.New("election: lease lost")

// Locker hands out terms of ownership of one named lock.
type Locker interface {
	// Acquire blocks until identity holds the lock for ttl, ctx ends, or an
	// error other than "held by another" occurs. It calls onHeld, if not
	// nil, with the holder it sees each time it finds the lock held.
	Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(Holder)) (Lease, error)
}

// Lease is one term of ownership handed out by a Locker.
type Lease interface {
	// Fence is the term's fencing token, larger than every earlier term's.
	Fence() uint64
	// SentAt is the time, on the Locker's clock, just before the
	// successful acquire was sent.
	SentAt() time.Time
	// Renew extends the lease by its TTL from now. When the lease is gone
	// or someone else's the error wraps ErrLost; any other error means the
	// outcome is unknown and the lease may still be held.
	Renew(ctx context.Context) error
	// Release gives the lease up and wakes waiters, if this term still
	// owns it.
	Release(ctx context.Context) error
}

// Holder is the owner of the lock as seen by a waiting candidate.
type Holder struct {
	Identity string
	Fence    uint64
	// Remaining is how long the holder's lease had left when it was read.
	Remaining time.Duration
}
