// Package redislock is the Redis lease that baton's elector stands on, in
// the style of Redisson's watchdog lock: a key with a TTL, owned by a random
// token, taken, renewed and released by Lua scripts that compare the token.
// NewLocker adapts a Lock to pkg/lease's Locker, the elector's storage seam.
// Application locks (mutexes, fair locks, semaphores) stand on the same
// engine beside it, in pkg/locks.
//
// A lock named N is four Redis names that share one Cluster hash slot
// through the hash tag {N}:
//
//   - <prefix>:{N}:lease, a hash with the owner token, the holder identity,
//     the fencing token and the acquire time, with a TTL;
//   - <prefix>:{N}:fence, the fencing counter, a string that never expires
//     and is never deleted;
//   - <prefix>:{N}:term, the term record, a hash with the newest fence and
//     until when (Redis server time, microseconds) that term can be valid;
//     it never expires, and a release ends its validity;
//   - <prefix>:{N}:released, the channel on which a release is announced.
//
// # The term record
//
// The lease alone can vanish before its TTL, through maxmemory eviction
// (volatile-* policies evict the keys that have a TTL, and the lease is the
// only one) or an operator's DEL. Its holder still believes in its term, so
// while the term record says the term can be valid, every candidate, even
// one that has never seen a fence, is answered with a quarantine (a
// *HeldError whose holder is ""). Only the maxmemory-policy noeviction keeps
// every key: see CheckEvictionPolicy. To hand a lock over early, delete both
// the lease and the term record.
//
// A store with neither the counter nor the term record is unknown: its
// first candidate waits one TTL, since Redis may have lost a term
// (FLUSHALL, a restart without persistence) that a holder still believes in.
//
// # Bounded calls
//
// A value at a lock key that baton did not write is never deleted or
// overwritten: the scripts report it as ErrForeign. Every call to Redis is
// bounded, even under a context without deadline: each script call by
// Options.AttemptTimeout, a subscription's confirmation by
// Options.SubscribeTimeout. An acquire cut short is released by its owner
// token, so a timeout never leaves a lease behind.
//
// Give the lock a go-redis client with ContextTimeoutEnabled (the sidecar's
// is one): such a client puts each call's deadline on its socket, so the
// calls run on the caller's goroutine, which saves a goroutine and two
// hand-overs per call. With any other client, each call runs in a guard
// goroutine that the caller leaves as soon as its context ends. The
// difference is what a cancellation does to a call stalled on a dead
// connection: under the guard it ends the wait at once; a direct call ends
// at its deadline, the attempt timeout at the latest. Options.GuardCalls
// keeps the guard with any client.
//
// # Waiting
//
// Waiting never polls on a fixed interval: a waiter subscribes to the
// release channel before its next try and then wakes on a release message
// or when the observed PTTL runs out, whichever comes first. A lost message
// or a dropped subscription therefore costs at most one TTL. The Watchers of
// one Client share one pub/sub connection, which is replaced when it fails
// or goes silent.
//
// # Fences
//
// Fencing tokens grow from term to term: the next fence is
// max(counter+1, Redis server time in microseconds). They stay at or below
// MaxFence (2^53-1), the integers that Lua counts exactly; a larger value is
// reported as foreign, never rounded. After a restart without persistence
// or a FLUSHALL the counter is gone, but server time still moves the fence
// past every earlier one, as long as the server's clock has not gone
// backwards by more than the time since the last acquire. A failover to a
// replica whose clock is behind, or that missed the last write, can break
// that; Options.MinReplicas narrows the window: see docs/safety.md.
package redislock
