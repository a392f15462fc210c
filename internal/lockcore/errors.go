package lockcore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/field"
)

var (
	// ErrHeld means another owner holds the lease. The error is a *HeldError
	// that says who and for how long.
	ErrHeld = errors.New("redislock: held by another owner")
	// ErrLost means a renew found the lease gone or owned by someone else:
	// the caller no longer holds it and must stop acting as its owner.
	ErrLost = errors.New("redislock: lease lost")
	// ErrForeign means a key of the lock holds a value that baton did not
	// write (another type, a foreign string, no TTL). baton never deletes or
	// overwrites it; an operator must remove it.
	ErrForeign = errors.New("redislock: foreign value at lock key")
	// ErrNotHeld means Release was called by an owner that no longer
	// holds the lease (it expired or was taken over); nothing was deleted.
	ErrNotHeld = errors.New("redislock: not held by this owner")
	// ErrTimeout means TryLock's wait time ran out, while another owner
	// held the lock or while an acquire was under way. Either way this
	// caller holds nothing: an acquire cut short is released by its token.
	ErrTimeout = errors.New("redislock: wait time elapsed")
	// ErrInvalid marks invalid arguments, such as a bad lock name or TTL.
	ErrInvalid = errors.New("redislock: invalid argument")
	// ErrDenied means the Redis ACL user lacks a permission that a lease
	// holder needs (PUBLISH or SUBSCRIBE on the release channel). The lease is
	// not taken. The error is a *DeniedError.
	ErrDenied = errors.New("redislock: permission denied")
	// ErrNotReplicated means an acquire or renew with Options.MinReplicas
	// was acknowledged by too few replicas. An acquire then released the
	// lease; a renew counts as failed (the lease may still be held, so
	// retry it within the term). The error is a *NotReplicatedError.
	ErrNotReplicated = errors.New("redislock: lease not replicated")
	// ErrPermits means a semaphore's number of permits differs from the one
	// recorded by its first user. Nothing was written. The error is a
	// *PermitsError.
	ErrPermits = errors.New("redislock: another number of permits is recorded")
	// ErrUnexpectedReply means a script answered in a shape this version does
	// not know, for example after a partial upgrade.
	ErrUnexpectedReply = errors.New("redislock: unexpected script reply")
)

// Holder describes the current owner of a lease held by someone else.
type Holder struct {
	// Identity is the holder's identity (for example its pod name).
	Identity string
	// Fence is the holder's fencing token.
	Fence uint64
	// Remaining is the lease's PTTL when it was read.
	Remaining time.Duration
}

// HeldError is returned when another owner holds the lease. It matches
// ErrHeld with errors.Is.
type HeldError struct {
	Lock   string
	Holder Holder
	// Ahead is, for a fair waiter (a fair Mutex or Semaphore), how many
	// live waiters were queued before it; 0 otherwise.
	Ahead int

	// headLeft is how long the head's queue entry lives unless refreshed,
	// or -1: see queueRetryIn.
	headLeft time.Duration
	// queue: the reply came from a lock's queue (Ahead and headLeft are
	// its), which for a plain waiter's try means that it joined it.
	queue bool
}

func (e *HeldError) Error() string {
	if e.Holder.Identity == "" && e.Holder.Remaining == 0 && e.Ahead > 0 {
		return fmt.Sprintf("redislock: lock %q is free, but it is the turn of one of the %d fair waiters ahead", e.Lock, e.Ahead)
	}
	if e.Holder.Identity == "" {
		return fmt.Sprintf("redislock: lock %q in quarantine after fence %d for %v more: its last term may still be valid (lost writes, or a lease evicted or deleted before its TTL)",
			e.Lock, e.Holder.Fence, e.Holder.Remaining)
	}
	return fmt.Sprintf("redislock: lock %q held by %q (fence %d) for %v more",
		e.Lock, e.Holder.Identity, e.Holder.Fence, e.Holder.Remaining)
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// ForeignError reports a value at a lock key that baton did not write. It
// matches ErrForeign with errors.Is.
type ForeignError struct {
	Key  string
	What string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("redislock: foreign value at key %q (%s); baton leaves it untouched, remove it by hand", e.Key, e.What)
}

// Is makes errors.Is(err, ErrForeign) true.
func (e *ForeignError) Is(target error) bool { return target == ErrForeign }

// LostError reports a renew that found the lease gone or someone else's. It
// matches ErrLost with errors.Is.
type LostError struct {
	Lock string
	// Holder is the identity that holds the lease now, or "" when it is gone.
	Holder string
}

func (e *LostError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("redislock: lease on %q lost: key gone", e.Lock)
	}
	return fmt.Sprintf("redislock: lease on %q lost: now held by %q", e.Lock, e.Holder)
}

// Is makes errors.Is(err, ErrLost) true.
func (e *LostError) Is(target error) bool { return target == ErrLost }

// DeniedError reports a permission that the Redis ACL user lacks. It
// matches ErrDenied with errors.Is.
type DeniedError struct {
	// Command is the command denied, such as "PUBLISH".
	Command string
	// Channel is the release channel it was checked on.
	Channel string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("redislock: the Redis ACL user may not %s on channel %q, which a lease holder needs; not taking the lease (grant +%s and &%s)",
		e.Command, e.Channel, strings.ToLower(e.Command), e.Channel)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// NotReplicatedError reports an acquire or renew that too few replicas
// acknowledged within the timeout. It matches ErrNotReplicated with
// errors.Is.
type NotReplicatedError struct {
	// Op is "acquire" or "renew".
	Op      string
	Lock    string
	Acked   int
	Want    int
	Timeout time.Duration
}

func (e *NotReplicatedError) Error() string {
	if e.Op == "renew" {
		return fmt.Sprintf("redislock: renew of %q acknowledged by %d of %d replicas within %v; the renewal does not count",
			e.Lock, e.Acked, e.Want, e.Timeout)
	}
	return fmt.Sprintf("redislock: lease on %q acknowledged by %d of %d replicas within %v; released, not leading on it",
		e.Lock, e.Acked, e.Want, e.Timeout)
}

// Is makes errors.Is(err, ErrNotReplicated) true.
func (e *NotReplicatedError) Is(target error) bool { return target == ErrNotReplicated }

// PermitsError reports a Semaphore whose number of permits differs from
// the one Redis recorded for its name. It matches ErrPermits with
// errors.Is.
type PermitsError struct {
	Semaphore string
	// Recorded is the number of permits recorded; Asked is this client's.
	Recorded, Asked int
}

func (e *PermitsError) Error() string {
	return fmt.Sprintf("redislock: semaphore %q has %d permits recorded in Redis, this client asks for %d: every user of one name must give the same number; nothing was written",
		e.Semaphore, e.Recorded, e.Asked)
}

// Is makes errors.Is(err, ErrPermits) true.
func (e *PermitsError) Is(target error) bool { return target == ErrPermits }

// invalid is the error of an option that breaks a rule: ErrInvalid
// wrapping the *field.Error that names the option.
func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalid, field.Invalid(name, format, args...))
}
