package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	bsmlock "github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// held is one term of a polling peer's lock, as the bench drives it.
type held interface {
	release(ctx context.Context) error
	// refresh extends the lock by its TTL; the peers have no watchdog of
	// their own, so the bench's leader loop calls it every TTL/3, like
	// baton's.
	refresh(ctx context.Context) error
}

// lockTool is a peer lock with candidates 0, 1, ..., each with its own
// Redis client.
type lockTool interface {
	// acquire blocks until candidate who holds the lock or ctx ends. at is
	// taken as soon as the tool reports success.
	acquire(ctx context.Context, who int) (h held, at time.Time, err error)
	// counter counts candidate who's commands.
	counter(who int) *cmdCounter
	// channel is the release channel a waiter subscribes to, "" for a
	// polling tool.
	channel() string
	// maxPause is the longest random pause before a release, so that
	// releases fall at random phases of a polling waiter's schedule.
	maxPause() time.Duration
	close()
}

// clientSet is one Redis client per candidate, each with its counter.
type clientSet struct {
	clients  []*redis.Client
	counters []*cmdCounter
}

func newClientSet(e *env, n int) clientSet { return newClientSetOf(n, e.newClient) }

// newClientSetOf is a clientSet of n clients made by newClient.
func newClientSetOf(n int, newClient func(*cmdCounter) *redis.Client) clientSet {
	var t clientSet
	for range n {
		c := newCmdCounter()
		t.counters = append(t.counters, c)
		t.clients = append(t.clients, newClient(c))
	}
	return t
}

func (t *clientSet) counter(who int) *cmdCounter { return t.counters[who] }

func (t *clientSet) close() {
	for _, c := range t.clients {
		_ = c.Close()
	}
}

// floorTool is the raw floor: release is DEL and PUBLISH in one round
// trip; a waiter subscribes, tries SET NX PX, and tries again on each
// message. No token check, no fencing, no script: nothing else.
type floorTool struct {
	clientSet
	key, ch string
	ttl     time.Duration
}

func newFloorTool(e *env, name string, n int, ttl time.Duration) *floorTool {
	return &floorTool{clientSet: newClientSet(e, n), key: "floor:" + name, ch: "floor:" + name + ":released", ttl: ttl}
}

func (f *floorTool) channel() string         { return f.ch }
func (f *floorTool) maxPause() time.Duration { return time.Millisecond }

type floorHeld struct {
	f *floorTool
	c *redis.Client
}

func (h floorHeld) release(ctx context.Context) error {
	_, err := h.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, h.f.key)
		p.Publish(ctx, h.f.ch, "1")
		return nil
	})
	return err
}

func (h floorHeld) refresh(ctx context.Context) error {
	return h.c.PExpire(ctx, h.f.key, h.f.ttl).Err()
}

func (f *floorTool) acquire(ctx context.Context, who int) (held, time.Time, error) {
	c := f.clients[who]
	ps := c.Subscribe(ctx, f.ch)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return nil, time.Time{}, err
	}
	for ctx.Err() == nil {
		ok, err := c.SetNX(ctx, f.key, strconv.Itoa(who), f.ttl).Result()
		if err != nil {
			return nil, time.Time{}, err
		}
		if ok {
			return floorHeld{f, c}, time.Now(), nil
		}
		// A bounded wait: any message, or a time-out, means try again.
		if _, err := ps.ReceiveTimeout(ctx, time.Second); err != nil && ctx.Err() == nil {
			var nerr interface{ Timeout() bool }
			if !errors.As(err, &nerr) || !nerr.Timeout() {
				return nil, time.Time{}, err
			}
		}
	}
	return nil, time.Time{}, ctx.Err()
}

// bsmTool is bsm/redislock's Obtain with a linear retry.
type bsmTool struct {
	clientSet
	lockers []*bsmlock.Client
	key     string
	ttl     time.Duration
	backoff time.Duration
}

func newBsmTool(e *env, name string, n int, ttl, backoff time.Duration) *bsmTool {
	t := &bsmTool{clientSet: newClientSet(e, n), key: "bsm:" + name, ttl: ttl, backoff: backoff}
	for _, c := range t.clients {
		t.lockers = append(t.lockers, bsmlock.New(c))
	}
	return t
}

func (b *bsmTool) channel() string         { return "" }
func (b *bsmTool) maxPause() time.Duration { return b.backoff }

type bsmHeld struct {
	l   *bsmlock.Lock
	ttl time.Duration
}

func (h bsmHeld) release(ctx context.Context) error { return h.l.Release(ctx) }
func (h bsmHeld) refresh(ctx context.Context) error { return h.l.Refresh(ctx, h.ttl, nil) }

func (b *bsmTool) acquire(ctx context.Context, who int) (held, time.Time, error) {
	for ctx.Err() == nil {
		// Obtain retries until its context's deadline, then gives up.
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		l, err := b.lockers[who].Obtain(octx, b.key, b.ttl, &bsmlock.Options{RetryStrategy: bsmlock.LinearBackoff(b.backoff)})
		at := time.Now()
		cancel()
		switch {
		case err == nil:
			return bsmHeld{l, b.ttl}, at, nil
		case errors.Is(err, bsmlock.ErrNotObtained), errors.Is(err, context.DeadlineExceeded):
			continue
		default:
			return nil, time.Time{}, err
		}
	}
	return nil, time.Time{}, ctx.Err()
}

// redsyncTool is go-redsync/redsync with its default options (8s expiry,
// 32 tries, 50–250ms random delay), except for the expiry where a run
// says otherwise.
type redsyncTool struct {
	clientSet
	rs     []*redsync.Redsync
	key    string
	expiry time.Duration // 0: redsync's default
}

func newRedsyncTool(e *env, name string, n int, expiry time.Duration) *redsyncTool {
	t := &redsyncTool{clientSet: newClientSet(e, n), key: "redsync:" + name, expiry: expiry}
	for _, c := range t.clients {
		t.rs = append(t.rs, redsync.New(goredis.NewPool(c)))
	}
	return t
}

func (r *redsyncTool) channel() string         { return "" }
func (r *redsyncTool) maxPause() time.Duration { return 250 * time.Millisecond }

type redsyncHeld struct{ m *redsync.Mutex }

func (h redsyncHeld) release(ctx context.Context) error {
	ok, err := h.m.UnlockContext(ctx)
	if err == nil && !ok {
		err = errors.New("redsync: unlock: not held")
	}
	return err
}

func (h redsyncHeld) refresh(ctx context.Context) error {
	ok, err := h.m.ExtendContext(ctx)
	if err == nil && !ok {
		err = errors.New("redsync: extend: not held")
	}
	return err
}

func (r *redsyncTool) acquire(ctx context.Context, who int) (held, time.Time, error) {
	var opts []redsync.Option
	if r.expiry > 0 {
		opts = append(opts, redsync.WithExpiry(r.expiry))
	}
	for ctx.Err() == nil {
		m := r.rs[who].NewMutex(r.key, opts...)
		err := m.LockContext(ctx)
		at := time.Now()
		var taken *redsync.ErrTaken
		switch {
		case err == nil:
			return redsyncHeld{m}, at, nil
		case errors.Is(err, redsync.ErrFailed), errors.As(err, &taken):
			continue // out of tries: start again
		default:
			return nil, time.Time{}, fmt.Errorf("redsync: %w", err)
		}
	}
	return nil, time.Time{}, ctx.Err()
}
