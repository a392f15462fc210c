package httpapi

import (
	"context"
	"time"
)

// Kind says whether a Resource is a lock or a counting semaphore.
type Kind string

// The kinds of Resource, also the first segment of their routes.
const (
	KindLock      Kind = "locks"
	KindSemaphore Kind = "semaphores"
)

// Resource names one lock or semaphore of the application.
type Resource struct {
	Kind Kind
	// Name is the lock's or semaphore's name (redislock.ValidateName).
	Name string
	// Permits is a semaphore's number of permits; 0 for a lock.
	Permits int
}

// AcquireParams say how to take a Resource.
type AcquireParams struct {
	// Wait bounds the wait while the resource is taken: 0 makes one try.
	Wait time.Duration
	// Lease is the TTL of the lease in Redis.
	Lease time.Duration
	// Watchdog renews the lease every third of Lease until Release (the
	// stream form). Without it the lease runs out after Lease unless
	// Renew or Release comes first.
	Watchdog bool
	// Fair queues the waiter in arrival order (FIFO).
	Fair bool
}

// Holding is one lock or permit held through the API.
type Holding interface {
	// Token is the owner token, which renew and release present.
	Token() string
	// Fence is the fencing token, larger than any earlier holder's.
	Fence() uint64
	// TTL is the lease's TTL, which each renew restores.
	TTL() time.Duration
	// Lost is closed when the watchdog finds the lease lost or can no
	// longer be sure of it (watchdog form only); Err then says why.
	Lost() <-chan struct{}
	Err() error
	// Renew extends the lease by TTL from now, while still owned; an error
	// matching locks.ErrLost or locks.ErrNotHeld when not.
	Renew(ctx context.Context) error
	// Release gives the lease up; an error matching locks.ErrNotHeld
	// when it was no longer owned.
	Release(ctx context.Context) error
}

// HolderInfo is one holder of a Resource, as Inspect reads it.
type HolderInfo struct {
	Identity  string
	Fence     uint64
	Remaining time.Duration
}

// ResourceInfo is what Inspect reads of a Resource.
type ResourceInfo struct {
	// Holders are the holders now: at most one for a lock.
	Holders []HolderInfo
	// Fence is, for a lock, the holder's fence or the last issued when
	// free.
	Fence uint64
	// Queue is the number of live fair-queue entries.
	Queue int
}

// LockBackend takes and inspects locks and semaphores. RedisLocks is the
// real one, on pkg/redislock.
type LockBackend interface {
	// Acquire takes r. When the wait runs out the error matches
	// locks.ErrTimeout, and a *locks.HeldError in its chain names
	// the holder.
	Acquire(ctx context.Context, r Resource, p AcquireParams) (Holding, error)
	// Inspect reads r without side effects.
	Inspect(ctx context.Context, r Resource) (ResourceInfo, error)
}
