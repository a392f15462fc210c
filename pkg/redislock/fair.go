package redislock

import (
	"context"
	_ "embed"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed fair_acquire.lua
	fairAcquireSource string

	// fair_acquire.lua calls acquire.lua as a function, so that the
	// lease's rules (fences, the term record, foreign values) are the
	// plain lock's, written once.
	fairAcquireScript = redis.NewScript(queueSource + fenceSource +
		"local function acquire_lease()\n" + acquireSource + "\nend\n" + fairAcquireSource)
)

// TryLockFair is TryLock with fair (FIFO) order among its waiters: the same
// lock (a fair and a plain TryLock of one name exclude each other), the same
// waitTime, leaseTime, watchdog, fences and re-entry under WithOwner, and
// the same *Locked.
//
// A waiter that finds the lock taken, or finds other fair waiters queued,
// joins a queue in Redis, in the lock's hash slot. Waiters acquire in the
// order in which their enqueue ran in Redis: the guarantee is that live
// waiters are served in arrival order. Plain TryLock waiters are not in the
// queue: they can take the lock whenever they find it free, so mix the two
// on one name only when that is fine.
//
// Each waiter's entry is refreshed every Options.QueueHeartbeat, by its
// tries and by a timer apart from them (one script per heartbeat for all
// the waiters of one queue on one Client), so that a waiter whose tries or
// subscription are slow (a busy client, a saturated pool) keeps its place;
// the refresh never re-creates an entry that was pruned. An entry not refreshed for QueueMissedHeartbeats
// heartbeats, in Redis server time, is dead and drops out, so a waiter that
// died (kill -9, a lost host) blocks the queue for about 3 heartbeats, not
// minutes. A release wakes only the head of the queue, through the waiter's
// own channel (<prefix>:{name}:wake:<token>); besides wake-ups a waiter
// tries at its heartbeat, and sooner when what it waits for can expire by
// itself: the holder's lease for the head, the head's entry for the next
// waiter. There is no polling beyond the heartbeat.
//
// A waiter whose wait runs out, or whose ctx ends, removes its own entry
// before TryLockFair returns (bounded by Options.AttemptTimeout). With
// waitTime 0 the single try takes the lock only when nobody is queued, and
// leaves no entry. Plain TryLock waiters are woken by a release only when
// nobody is queued; otherwise they try again when the lease they saw can
// expire.
func (l *Lock) TryLockFair(ctx context.Context, waitTime, leaseTime time.Duration) (*Locked, error) {
	return l.tryLock(ctx, waitTime, leaseTime, l.tryFairOnce, l.acquireFair)
}

// tryFairOnce is TryLockFair's single try: no queue entry.
func (l *Lock) tryFairOnce(ctx context.Context, identity string, ttl time.Duration) (*Lease, error) {
	if err := checkAcquire(identity, ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	return l.acquireAs(ctx, token, identity, ttl, true, &fairTry{enqueue: false})
}

// acquireFair waits in the fair queue under one owner token, which is also
// the name of the queue entry and of the wake channel.
func (l *Lock) acquireFair(ctx context.Context, identity string, ttl time.Duration, onHeld func(*HeldError)) (*Lease, error) {
	if err := checkAcquire(identity, ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	stopHeartbeat := joinHeartbeat(l.client, l.queueKey, l.deadlinesKey, token, l.opts.QueueHeartbeat, l.opts.AttemptTimeout)
	defer stopHeartbeat()
	var lease *Lease
	err = awaitTurn(ctx,
		func(ctx context.Context) (*Watcher, error) {
			return subscribe(ctx, l.client, l.opts.SubscribeTimeout, l.name, l.wakePrefix+token)
		},
		func(ctx context.Context) (time.Duration, bool, error) {
			s, err := l.acquireAs(ctx, token, identity, ttl, true, &fairTry{enqueue: true})
			var held *HeldError
			if !errors.As(err, &held) {
				lease = s
				return 0, true, err
			}
			onHeld(held)
			return queueRetryIn(l.opts.QueueHeartbeat, held.Ahead, 1, held.Holder.Remaining, held.headLeft), false, nil
		})
	stopHeartbeat()
	if lease == nil {
		leave(ctx, func() { l.releaseOrphan(token) })
	}
	return lease, err
}

// leave takes a waiter that gives up out of the queue: before returning when
// its wait ran out or its ctx ended, so that its place is free at once; in
// the background when a try failed otherwise (Redis may be unreachable,
// and the entry dies by itself within 3 heartbeats anyway).
func leave(ctx context.Context, release func()) {
	if ctx.Err() != nil {
		release()
		return
	}
	go release()
}
