// Package election runs a leader election on any Locker, in the shape of
// client-go's tools/leaderelection.
//
// An Elector takes the lock, renews it every RenewInterval, and steps down
// on its own when no renewal has succeeded for RenewDeadline, which is
// shorter than the lease TTL. Validity is measured from the moment the last
// successful acquire or renew was sent, on CLOCK_BOOTTIME on Linux (which
// counts a suspended machine's sleep) and on the monotonic clock elsewhere,
// and it is checked on every read: a process paused past its deadline
// (SIGSTOP, a long GC, a suspend) never reports itself leader when it
// resumes.
//
// The margin LeaseTTL-RenewDeadline belongs to the term's work: after a
// step-down the lock is released only once OnStartedLeading has returned or
// (after a deadline) the lease could expire, and the next term of the same
// elector starts only once the previous work has returned, within
// ReleaseTimeout. In detail: after a graceful step-down (resign or
// shutdown) the elector waits ReleaseTimeout at most for OnStartedLeading,
// then ReleaseTimeout at most for the release, so the step-down takes at
// most twice its value; after a deadline step-down it waits no later than
// the moment the lease can expire in the store; a new campaign waits for
// the previous term's work until ReleaseTimeout after the term ended (or
// the lease's expiry, if later), then goes on with a warning.
//
// Renewals: a renewal may use the time left before the term's deadline, so
// a round trip below RenewDeadline-RenewInterval never costs a term; when
// it has no answer within 2*RetryPeriod, quick attempts bounded by
// 2*RetryPeriod go out beside it, so one stalled connection costs one
// attempt, not the term.
//
// The default Clock, on Linux, runs on CLOCK_BOOTTIME, which keeps counting
// while the machine is suspended (Go's monotonic clock does not);
// redislock.Options.Now defaults to the same clock.
//
// What it guarantees: while Status reports Leader, no other elector on the
// same lock can have acquired it, provided that Redis has not lost the lease
// (a failover to a replica that missed it, a restart without persistence)
// and that the local clock does not run slower than Redis's by more than the
// margin LeaseTTL-RenewDeadline. Work that must never overlap should also
// pass the term's fencing token to the systems it writes to, which can then
// reject a stale leader: fences only grow.
//
// What it does not guarantee: that a caller who read Status a moment ago is
// still leader now. Read it again, use the leader context, or use fencing.
package election
