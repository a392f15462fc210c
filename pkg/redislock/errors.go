package redislock

import "github.com/baton-dev/baton/internal/lockcore"

// The errors of the lease. pkg/locks returns the same values.
var (
	// ErrHeld means another owner holds the lease; the error is a *HeldError.
	ErrHeld = lockcore.ErrHeld
	// ErrLost means a renew found the lease gone or another's.
	ErrLost = lockcore.ErrLost
	// ErrForeign means a key holds a value baton did not write; baton never
	// deletes or overwrites it. The error is a *ForeignError.
	ErrForeign = lockcore.ErrForeign
	// ErrNotHeld means a Release by an owner that no longer holds the
	// lease; nothing was deleted.
	ErrNotHeld = lockcore.ErrNotHeld
	// ErrInvalid marks invalid arguments, such as a bad name or TTL.
	ErrInvalid = lockcore.ErrInvalid
	// ErrDenied means the Redis ACL user lacks PUBLISH or SUBSCRIBE on the
	// release channel; the error is a *DeniedError.
	ErrDenied = lockcore.ErrDenied
	// ErrNotReplicated means too few replicas acknowledged an acquire or
	// renew under Options.MinReplicas; the error is a *NotReplicatedError.
	ErrNotReplicated = lockcore.ErrNotReplicated
	// ErrUnexpectedReply means a script answered in a shape this version
	// does not know.
	ErrUnexpectedReply = lockcore.ErrUnexpectedReply
)

// Holder describes the owner of a lease held by someone else.
type Holder = lockcore.Holder

// HeldError says who holds the lease and for how long.
type HeldError = lockcore.HeldError

// LostError says the lease is gone, and who holds the key now if anyone.
type LostError = lockcore.LostError

// ForeignError names the key with a value baton did not write.
type ForeignError = lockcore.ForeignError

// DeniedError names the command and channel the ACL user may not use.
type DeniedError = lockcore.DeniedError

// NotReplicatedError says how many replicas acknowledged, of how many.
type NotReplicatedError = lockcore.NotReplicatedError
