//go:build unix

package locks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/test/chaos"
)

// Regression: a fair waiter's queue entry was refreshed only by its tries,
// and a try waits behind the waiter's subscription and for a pooled
// connection: under load (1000 waiters through 3 sidecars) the gaps between
// one waiter's tries outgrew the entry's 3 heartbeats, and live waiters
// were pruned as dead and queued again at the end. The entry now has a
// heartbeat of its own: a waiter whose try or subscription is stalled keeps
// its place.
func TestQueueEntryOutlivesAStalledWaiter(t *testing.T) {
	const heartbeat = 100 * time.Millisecond
	opts := lockcore.Options{QueueHeartbeat: heartbeat, AttemptTimeout: time.Hour, SubscribeTimeout: time.Hour}
	type waiter struct {
		wait    func(ctx context.Context) error // waits as a fair waiter
		queued  func() int                      // live entries, read directly
		entries func() []string                 // the queue's tokens, read directly
	}
	lockWaiter := func(t *testing.T, c, direct *redis.Client) waiter {
		l, err := lockcore.New(c, "job", opts)
		if err != nil {
			t.Fatal(err)
		}
		d := newLock(t, direct, "job")
		if _, err := locks.MutexOf(d, false).TryLock(t.Context(), 0, time.Hour); err != nil {
			t.Fatal(err)
		}
		queue, _, _ := d.QueueKeys()
		return waiter{
			wait: func(ctx context.Context) error {
				_, err := locks.MutexOf(l, true).TryLock(ctx, -1, time.Hour)
				return err
			},
			queued:  func() int { return queued(t, d) },
			entries: func() []string { return direct.ZRange(t.Context(), queue, 0, -1).Val() },
		}
	}
	semWaiter := func(t *testing.T, c, direct *redis.Client) waiter {
		s, err := locks.NewSemaphoreCore(c, "pool", 1, lockcore.SemaphoreOptions{Options: opts, Fair: true})
		if err != nil {
			t.Fatal(err)
		}
		d, err := locks.NewSemaphoreCore(direct, "pool", 1, lockcore.SemaphoreOptions{Fair: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.TryLock(t.Context(), 0, time.Hour); err != nil {
			t.Fatal(err)
		}
		_, _, _, queue, _, _, _ := locks.SemCore(d).Keys()
		return waiter{
			wait: func(ctx context.Context) error {
				_, err := s.TryLock(ctx, -1, time.Hour)
				return err
			},
			queued: func() int {
				info, err := d.Inspect(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return info.Queue
			},
			entries: func() []string { return direct.ZRange(t.Context(), queue, 0, -1).Val() },
		}
	}
	for _, tc := range []struct {
		name   string
		waiter func(t *testing.T, c, direct *redis.Client) waiter
		// stall is the request whose connection goes silent; before says
		// whether it is armed before the waiter starts (its first
		// subscription) or once it is queued (its next try).
		stall  string
		before bool
	}{
		{"lock, try stalled", lockWaiter, lockcore.FairAcquireHash, false},
		{"semaphore, try stalled", semWaiter, lockcore.SemaphoreAcquireHash, false},
		{"lock, subscription stalled", lockWaiter, "subscribe", true},
		{"semaphore, subscription stalled", semWaiter, "subscribe", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, c, direct := proxied(t, redis.Options{ReadTimeout: -1})
			loadScripts(t, direct)
			w := tc.waiter(t, c, direct)
			var stalled <-chan struct{}
			if tc.before {
				stalled = p.Arm(tc.stall, chaos.Stall)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.wait(ctx) }()
			eventually(t, hangLimit, "waiter queued", func() bool { return w.queued() == 1 })
			token := w.entries()
			if !tc.before {
				stalled = p.Arm(tc.stall, chaos.Stall)
			}
			select {
			case <-stalled:
			case <-time.After(hangLimit):
				t.Fatalf("no %s within %v", tc.stall, hangLimit)
			}
			// Past the entry's lifetime of 3 heartbeats, and then some: an
			// entry refreshed only by tries would be dead by now.
			time.Sleep(6 * heartbeat)
			if n, now := w.queued(), w.entries(); n != 1 || len(now) != 1 || now[0] != token[0] {
				t.Errorf("after 6 heartbeats stalled: %d live entries %v, want the waiter's %v", n, now, token)
			}
			select {
			case err := <-done:
				t.Fatalf("waiter returned while stalled: %v", err)
			default:
			}
			cancel()
			if err := within(t, "the stalled waiter", func() error { return <-done }); !errors.Is(err, context.Canceled) {
				t.Errorf("waiter: %v, want context.Canceled", err)
			}
			// It leaves the queue, and its heartbeat does not bring the
			// entry back.
			eventually(t, hangLimit, "entry removed", func() bool { return len(w.entries()) == 0 })
			time.Sleep(2 * heartbeat)
			if now := w.entries(); len(now) != 0 {
				t.Errorf("entries %v after the waiter left, want none", now)
			}
		})
	}
}
