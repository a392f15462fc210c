// Package redislock is a Redis lease lock in the style of Redisson's
// watchdog lock.
//
// A lock named N is three Redis names that share one Cluster hash slot
// through the hash tag {N}:
//
//   - <prefix>:{N}:lease, a hash with the owner token, the holder identity,
//     the fencing token and the acquire time, with a TTL;
//   - <prefix>:{N}:fence, the fencing counter, which is never deleted;
//   - <prefix>:{N}:released, the channel on which a release is announced.
//
// Acquire, renew and release are Lua scripts (embedded .lua files, run with
// EVALSHA) that compare the owner token before they act. A value at a lock
// key that baton did not write is never deleted or overwritten: the scripts
// report it as ErrForeign.
//
// Waiting never polls on a fixed interval: a waiter subscribes to the
// release channel before its next try and then wakes on a release message or
// when the observed PTTL runs out, whichever comes first. A lost message or a
// dropped subscription therefore costs at most one TTL.
//
// Fencing tokens grow from term to term: the next fence is
// max(counter+1, Redis server time in microseconds). After a restart without
// persistence or a FLUSHALL the counter is gone, but server time still moves
// the fence past every earlier one, as long as the server's clock has not
// gone backwards by more than the time since the last acquire. A failover to
// a replica whose clock is behind, or that missed the last write, can break
// that: see the README's safety model.
package redislock
