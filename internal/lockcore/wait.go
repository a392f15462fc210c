package lockcore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// wakeSlack is added to an observed PTTL before the next try. It is the
// whole of a crash failover's overshoot beyond the TTL that baton itself
// adds, and it is 5ms rather than the 1ms that PTTL's rounding alone needs:
// a live leader renewing every TTL/3 sends its third renewal after a seen
// PTTL just as that PTTL runs out, and a waiter that tries a moment before
// it lands finds 2/3 of a TTL left and wakes again after 2/3 of a TTL. With
// 1ms, about half the tries lost that race (1.22 tries per TTL per idle
// waiter in bench/); 5ms lets the renewal land first (1.00 per TTL) for
// 4ms more overshoot.
const wakeSlack = 5 * time.Millisecond

// Acquire takes the lease for ttl, waiting as long as ctx allows while
// another owner holds it; onHeld, if not nil, sees each holder found. After
// a failed try it subscribes to the release channel and only then tries
// again, then sleeps until a release or the observed PTTL runs out: no
// fixed polling, and a lost message costs at most one TTL. Each try is
// bounded by Options.AttemptTimeout, the subscription by
// Options.SubscribeTimeout. It knows no fair queue: it is the elector's.
func (l *Lock) Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(Holder)) (*Lease, error) {
	var lease *Lease
	err := awaitTurn(ctx, l.Watch, func(ctx context.Context) (time.Duration, bool, error) {
		s, err := l.TryAcquire(ctx, identity, ttl)
		var held *HeldError
		if !errors.As(err, &held) {
			lease = s
			return 0, true, err
		}
		if onHeld != nil {
			onHeld(held.Holder)
		}
		return held.Holder.Remaining + wakeSlack, false, nil
	})
	return lease, err
}

// WaitApp is TryLock's waiting: Acquire's, under an
// application's key rules (see Lock.keyRules), except that a try that
// finds a fair queue joins it (fair_acquire.lua's join mode), and the
// waiter then waits in the queue as fair waiters do, under the
// same owner token, until its wait ends. A release wakes only a queue's
// head, so a plain waiter outside the queue would wait for the lease it
// saw to expire. The fair try that starts a queue announces it on the
// release channel, so a plain waiter that saw none tries again and joins.
func (l *Lock) WaitApp(ctx context.Context, identity string, ttl time.Duration, onHeld func(*HeldError)) (*Lease, error) {
	if err := checkAcquire(identity, ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	var lease *Lease
	joined := false
	err = awaitTurn(ctx, l.Watch, func(ctx context.Context) (time.Duration, bool, error) {
		s, err := l.acquireAs(ctx, token, identity, ttl, true, &fairTry{mode: tryJoin})
		var held *HeldError
		if !errors.As(err, &held) {
			lease = s
			return 0, true, err
		}
		onHeld(held)
		if held.queue {
			joined = true
			return 0, true, nil
		}
		return held.Holder.Remaining + wakeSlack, false, nil
	})
	if !joined {
		return lease, err
	}
	return l.waitInQueue(ctx, token, identity, ttl, onHeld)
}

// awaitTurn is the waiting of every waiter, plain or fair, lock or
// semaphore: try; if that was not the end (done), subscribe and only then
// try again, so a wake-up between the two is never missed; then wait until
// a message arrives or retryIn, which try returned, has passed, and try
// again. retryIn is when the holder's lease or a queue entry can expire by
// itself, or a fair waiter's heartbeat: never a fixed polling interval.
//
// A subscription not confirmed within retryIn must not keep the waiter
// blind: it tries then without one, and subscribes again after. try's
// error, when done, ends awaitTurn; so does the end of ctx.
func awaitTurn(ctx context.Context, subscribe func(context.Context) (*Watcher, error), try func(context.Context) (retryIn time.Duration, done bool, err error)) error {
	retryIn, done, err := try(ctx)
	if done {
		return err
	}
	var w *Watcher
	defer func() {
		if w != nil {
			_ = w.Close()
		}
	}()
	for {
		if w == nil {
			wctx, cancel := context.WithTimeout(ctx, retryIn)
			w, err = subscribe(wctx)
			cancel()
			if err != nil {
				w = nil
				if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
					return err
				}
			}
		}
		retryIn, done, err = try(ctx)
		if done {
			return err
		}
		if w == nil {
			continue
		}
		if err := w.Wait(ctx, retryIn); err != nil {
			return err
		}
	}
}

// Watcher is a subscription to a lock's release channel (or a fair
// waiter's wake channel). The Watchers of one Client share one pub/sub
// connection: see hub.go.
type Watcher struct {
	name     string
	hub      *hub
	channels []string
	released chan struct{} // one pending wake-up, coalesced
	ready    chan struct{} // closed once every channel is confirmed
	pending  int           // channels not yet confirmed (hub.mu)
	gone     bool          // unwatched (hubs lock and hub.mu)
}

// Watch subscribes to the lock's release channel and returns once Redis has
// confirmed the subscription: every release after Watch returns wakes
// Wait. Every Watcher of one Client shares a single pub/sub connection,
// which is replaced when it fails or goes silent; releases during the gap
// are lost, which is why Wait also takes a timeout (and every Watcher is
// woken once when its channel is confirmed on the new connection).
//
// The confirmation is awaited for at most Options.SubscribeTimeout, and
// ctx's end interrupts it at once: a connection that goes silent after
// SUBSCRIBE cannot hold Watch, and the shared connection is replaced when a
// confirmation on it is that late.
func (l *Lock) Watch(ctx context.Context) (*Watcher, error) {
	return subscribe(ctx, l.client, l.opts.SubscribeTimeout, l.name, l.channel)
}

// subscribe is Watch on any of a lock's or semaphore's channels: one wake-up
// for a message on any of them.
func subscribe(ctx context.Context, client Client, timeout time.Duration, name string, channels ...string) (*Watcher, error) {
	sctx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("redislock: no subscribe confirmation within %v: %w", timeout, context.DeadlineExceeded))
	defer cancel()
	w := watch(client, name, timeout, channels)
	select {
	case <-w.ready:
		return w, nil
	case <-sctx.Done():
	}
	select {
	case <-w.ready: // confirmed at the same moment: take it
		return w, nil
	default:
	}
	w.unwatch()
	return nil, fmt.Errorf("redislock: subscribe %q: %w", strings.Join(channels, " "), context.Cause(sctx))
}

// wake leaves one pending wake-up: one is enough for any number of
// messages, since each wake-up makes one fresh try.
func (w *Watcher) wake() {
	select {
	case w.released <- struct{}{}:
	default:
	}
}

// Wait blocks until a release is announced, d elapses, or ctx ends; only the
// last returns an error (ctx.Err(), wrapped).
func (w *Watcher) Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.released:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redislock: wait for %q: %w", w.name, context.Cause(ctx))
	}
}

// Close ends the subscription; the last Watcher of a Client closes the
// shared connection. It always returns nil.
func (w *Watcher) Close() error {
	w.unwatch()
	return nil
}
