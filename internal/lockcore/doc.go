// Package redislock is a Redis lease lock in the style of Redisson's
// watchdog lock.
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
// The lease alone can vanish before its TTL, through maxmemory eviction
// (volatile-* policies evict the keys that have a TTL, and the lease is the
// only one) or an operator's DEL. Its holder still believes in its term, so
// while the term record says the term can be valid, every candidate, even
// one that has never seen a fence, is answered with a quarantine (a
// *HeldError whose holder is ""). Only the maxmemory-policy noeviction keeps
// every key: see CheckEvictionPolicy.
//
// The election's keys (Acquire, TryAcquire) never expire, and a store with
// neither the counter nor the term record is unknown: its first candidate
// waits one TTL, since Redis may have lost a term (FLUSHALL, a restart
// without persistence) that a holder still believes in. An application's
// keys (TryLock, TryLockFair, Semaphore) expire Options.KeyGrace after their
// last lease could have ended, so that names do not grow Redis; under a
// volatile-* policy their term record can then be evicted as well.
//
// Acquire, renew and release are Lua scripts (embedded .lua files, run with
// EVALSHA) that compare the owner token before they act. A value at a lock
// key that baton did not write is never deleted or overwritten: the scripts
// report it as ErrForeign.
//
// Every call to Redis is bounded, even under a context without deadline:
// each script call by Options.AttemptTimeout, a subscription's confirmation
// by Options.SubscribeTimeout. An acquire cut short is released by its
// owner token, so a timeout never leaves a lease behind.
//
// Give the lock a go-redis client with ContextTimeoutEnabled (the sidecar's
// is one): such a client puts each call's deadline on its socket, so the
// calls run on the caller's goroutine, which saves a goroutine and two
// hand-overs per call (BenchmarkUncontended compares the two). With any
// other client, each call runs in a guard goroutine that
// the caller leaves as soon as its context ends. The difference is what a
// cancellation does to a call stalled on a dead connection: under the
// guard it ends the wait at once; a direct call ends at its deadline, the
// attempt timeout at the latest. Options.GuardCalls keeps the guard with
// any client.
//
// TryLock is a mutex for application code, with a watchdog; under a context
// from WithOwner it is reentrant for that owner, as Redisson's RLock is for
// a thread.
//
// TryLockFair is the same lock with FIFO order among its waiters: a queue
// of heartbeated entries in the lock's hash slot (<prefix>:{N}:queue and
// :queue-deadlines), where an entry not refreshed for 3
// Options.QueueHeartbeat, in Redis server time, drops out, and a release
// wakes only the head, on its own channel (<prefix>:{N}:wake:<token>).
// Semaphore is a counting semaphore with leased permits, in keys of its own
// (<prefix>:{N}:sem:...). Inspect reads a lock's or a semaphore's state
// without writing.
//
// Waiting never polls on a fixed interval: a waiter subscribes to the
// release channel before its next try and then wakes on a release message or
// when the observed PTTL runs out, whichever comes first. A lost message or a
// dropped subscription therefore costs at most one TTL.
//
// Fencing tokens grow from term to term: the next fence is
// max(counter+1, Redis server time in microseconds). They stay at or below
// MaxFence (2^53-1), the integers that Lua counts exactly; a larger value is
// reported as foreign, never rounded. After a restart without
// persistence or a FLUSHALL the counter is gone, but server time still moves
// the fence past every earlier one, as long as the server's clock has not
// gone backwards by more than the time since the last acquire. A failover to
// a replica whose clock is behind, or that missed the last write, can break
// that: see the README's safety model.
package lockcore
