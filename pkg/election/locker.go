package election

import (
	"context"
	"time"
)

// Locker is the storage seam of an elector: the elector never knows what
// backs the lock. RedisLocker adapts a redislock.Lock.
type Locker interface {
	// Acquire blocks until identity holds the lock for ttl, ctx ends, or an
	// error other than "held by another" occurs. It calls onHeld with the
	// holder it sees each time it finds the lock held.
	Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(Holder)) (Lease, error)
}

// Lease is one term of ownership handed out by a Locker.
type Lease interface {
	// Fence is the term's fencing token. It is larger than every earlier
	// term's.
	Fence() uint64
	// SentAt is the time, on the elector's clock, just before the successful
	// acquire was sent.
	SentAt() time.Time
	// Renew extends the lease by its TTL from now. When the lease is gone or
	// someone else's the error wraps ErrLost; any other error means the
	// outcome is unknown and the lease may still be held.
	Renew(ctx context.Context) error
	// Release gives the lease up and wakes waiters, if this term still owns
	// it.
	Release(ctx context.Context) error
}

// Holder is the owner of the lock as seen by a waiting elector.
type Holder struct {
	Identity string
	Fence    uint64
	// Remaining is how long the holder's lease had left when it was read.
	Remaining time.Duration
}
