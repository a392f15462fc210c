package locks

import "github.com/baton-dev/baton/internal/lockcore"

// The errors of the application locks. They are the same values as
// pkg/redislock's, so errors.Is matches either.
var (
	// ErrHeld means another owner holds the lock; the error is a *HeldError.
	ErrHeld = lockcore.ErrHeld
	// ErrTimeout means the wait time ran out; this caller holds nothing.
	ErrTimeout = lockcore.ErrTimeout
	// ErrLost means the lease is gone or another's: stop acting as its owner.
	ErrLost = lockcore.ErrLost
	// ErrNotHeld means a Release or Renew by an owner that no longer holds
	// the lease; nothing was deleted.
	ErrNotHeld = lockcore.ErrNotHeld
	// ErrForeign means a key holds a value baton did not write.
	ErrForeign = lockcore.ErrForeign
	// ErrPermits means another number of permits is recorded for the name;
	// the error is a *PermitsError.
	ErrPermits = lockcore.ErrPermits
	// ErrInvalid marks invalid arguments.
	ErrInvalid = lockcore.ErrInvalid
)

// HeldError says who holds the lock, for how long, and how many wait ahead.
type HeldError = lockcore.HeldError

// PermitsError reports a semaphore whose number of permits differs from
// the one recorded in Redis.
type PermitsError = lockcore.PermitsError
