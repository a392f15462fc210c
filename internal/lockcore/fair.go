package lockcore

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

// The modes of fair_acquire.lua (its ARGV[8]).
const (
	tryOnce   = "0" // a single try: no entry
	tryQueued = "1" // a fair waiter's try: queue, or refresh the entry
	tryJoin   = "j" // a plain waiter's try: acquire.lua's, or queue once there is a queue
)

// semaphoreMode is semaphore_acquire.lua's ARGV[8]: a waiter's try queues
// in fair mode, and joins a queue it finds otherwise (tryJoin); a single
// try does neither.
func semaphoreMode(fair, waiting bool) string {
	switch {
	case !waiting:
		return tryOnce
	case fair:
		return tryQueued
	}
	return tryJoin
}

// idleWindow is the rank up to which a queued waiter tries on its own
// timer: the head watches the holder's lease, the next waiter the head's
// entry (see queueRetryIn). The waiters behind it idle (see heartbeat.go).
const idleWindow = 1

// idleWait is how long an idle waiter waits without a message: its
// refresher, which runs every heartbeat, wakes it when it must try, so
// this is only a backstop.
const idleWait = 24 * time.Hour

// TryFair is a fair lock's single try: no queue entry.
func (l *Lock) TryFair(ctx context.Context, identity string, ttl time.Duration) (*Lease, error) {
	if err := checkAcquire(identity, ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	return l.acquireAs(ctx, token, identity, ttl, true, &fairTry{mode: tryOnce})
}

// WaitFair waits in the fair queue under one owner token, which is also
// the name of the queue entry and of the wake channel.
func (l *Lock) WaitFair(ctx context.Context, identity string, ttl time.Duration, onHeld func(*HeldError)) (*Lease, error) {
	if err := checkAcquire(identity, ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	return l.waitInQueue(ctx, token, identity, ttl, onHeld)
}

// waitInQueue is the waiting of a fair waiter under token, from its first
// try (which queues it, or finds it queued) until it holds the lease or
// gives up; then it leaves the queue.
func (l *Lock) waitInQueue(ctx context.Context, token, identity string, ttl time.Duration, onHeld func(*HeldError)) (*Lease, error) {
	hb := joinRefresher(l.client, l.queueKey, l.deadlinesKey, token, l.opts.QueueHeartbeat, l.opts.AttemptTimeout)
	defer hb.leave()
	var lease *Lease
	err := awaitTurn(ctx,
		func(ctx context.Context) (*Watcher, error) {
			w, err := subscribe(ctx, l.client, l.opts.SubscribeTimeout, l.name, l.wakePrefix+token)
			if err == nil {
				hb.watch(w)
			}
			return w, err
		},
		func(ctx context.Context) (time.Duration, bool, error) {
			s, err := l.acquireAs(ctx, token, identity, ttl, true, &fairTry{mode: tryQueued})
			var held *HeldError
			if !errors.As(err, &held) {
				lease = s
				return 0, true, err
			}
			onHeld(held)
			return queueWait(hb, l.opts.QueueHeartbeat, held.Ahead, 0, held.Holder.Remaining, held.headLeft), false, nil
		})
	hb.leave()
	if lease == nil {
		leave(ctx, func() { l.releaseOrphan(token) })
	}
	return lease, err
}

// queueWait is how long a queued waiter at ahead waits for a message
// before its next try: queueRetryIn within the front window, and idle
// behind it, until its refresher wakes it.
// free counts the places ahead that are no wait (a semaphore's free
// permits): the waiter idles until its rank is at most free + idleWindow.
func queueWait(hb *member, heartbeat time.Duration, ahead, free int, holderLeft, headLeft time.Duration) time.Duration {
	if ahead-free > idleWindow {
		hb.idle(free + idleWindow)
		return idleWait
	}
	hb.active()
	return queueRetryIn(heartbeat, max(ahead-free, 0), idleWindow, holderLeft, headLeft)
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
