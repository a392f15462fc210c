//go:build unix

package locks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

// Regression (issue 17, item 11): 20 fair waiters queued behind one holder
// made 413 scripts in 10s, one try per waiter per heartbeat plus the
// refresh. The idle waiters of one client now cost at most 3 scripts per
// heartbeat, whatever their number: the refresh, and the tries of the two
// waiters at the front, who watch the holder's lease and the head's entry.
func TestIdleFairWaitersCostO1(t *testing.T) {
	const (
		hb    = 50 * time.Millisecond
		beats = 20
	)
	for _, waiters := range []int{5, 20} {
		t.Run(fmt.Sprint(waiters), func(t *testing.T) {
			srv := redistest.Start(t)
			c := srv.Client()
			ctx, cancel := context.WithCancel(t.Context())
			holder, err := locks.MutexOf(newLock(t, srv.Client(), "job"), false).TryLock(ctx, 0, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			l, err := lockcore.New(c, "job", lockcore.Options{QueueHeartbeat: hb})
			if err != nil {
				t.Fatal(err)
			}
			errs := make(chan error, waiters)
			for range waiters {
				go func() {
					m, err := locks.MutexOf(l, true).TryLock(ctx, -1, time.Hour)
					if err == nil {
						err = m.Release(context.WithoutCancel(ctx))
					}
					errs <- err
				}()
			}
			_, _, wake := l.QueueKeys()
			eventually(t, hangLimit, "waiters queued and subscribed", func() bool {
				chans, _ := c.PubSubChannels(ctx, wake+"*").Result()
				return queued(t, l) == waiters && len(chans) == waiters
			})
			// A few heartbeats for the tries that followed each
			// subscription, then count over many.
			time.Sleep(3 * hb)
			var elapsed time.Duration
			calls := callsDuring(t, c, func() {
				start := time.Now()
				time.Sleep(beats * hb)
				elapsed = time.Since(start)
			})
			scripts := calls["evalsha"] + calls["eval"]
			beatsSeen := float64(elapsed) / float64(hb)
			t.Logf("FIGURE idle fair waiters: %d waiters on one client, %d scripts in %v = %.2f per heartbeat of %v",
				waiters, scripts, elapsed.Round(time.Millisecond), float64(scripts)/beatsSeen, hb)
			// Three things run once per heartbeat; a window of n
			// heartbeats can hold n+1 runs of each.
			if limit := 3 * (int64(beatsSeen) + 1); scripts > limit {
				t.Errorf("%d idle waiters: %d scripts in %.1f heartbeats, want at most 3 per heartbeat (%d)", waiters, scripts, beatsSeen, limit)
			}
			// They still take the lock, in turn.
			if err := holder.Release(ctx); err != nil {
				t.Fatal(err)
			}
			for range waiters {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			cancel()
		})
	}
}

// Regression (issue 17, item 11): the refresher shared the client's pool,
// so a pool full of blocked calls (the application's BLPOPs here) held
// the refresh back past the entry's lifetime, and a live waiter was pruned
// as dead. The refresher now has a connection of its own.
func TestRefresherOutlivesABusyPool(t *testing.T) {
	const (
		hb   = 50 * time.Millisecond
		pool = 2
	)
	srv := redistest.Start(t)
	direct := srv.Client()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: pool, PoolTimeout: time.Hour})
	t.Cleanup(func() { _ = c.Close() })
	d := newLock(t, direct, "job")
	holder, err := locks.MutexOf(d, false).TryLock(ctx, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lockcore.New(c, "job", lockcore.Options{QueueHeartbeat: hb, AttemptTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		m, err := locks.MutexOf(l, true).TryLock(ctx, -1, time.Hour)
		if err == nil {
			err = m.Release(ctx)
		}
		done <- err
	}()
	eventually(t, hangLimit, "waiter queued", func() bool { return queued(t, d) == 1 })
	queue, _, _ := d.QueueKeys()
	entry := direct.ZRange(ctx, queue, 0, -1).Val()
	// The application blocks every pooled connection.
	for range pool {
		go func() { _ = c.BLPop(ctx, 0, "app-queue").Err() }()
	}
	eventually(t, hangLimit, "pool blocked", func() bool {
		list, _ := direct.ClientList(ctx).Result()
		return strings.Count(list, "cmd=blpop") == pool
	})
	// Twice the entry's lifetime of 3 heartbeats: an entry not refreshed
	// would be dead by now.
	time.Sleep(2 * lockcore.QueueMissedHeartbeats * hb)
	if n, now := queued(t, d), direct.ZRange(ctx, queue, 0, -1).Val(); n != 1 || len(now) != 1 || now[0] != entry[0] {
		t.Errorf("after 6 heartbeats with the pool blocked: %d live entries %v, want the waiter's %v", n, now, entry)
	}
	// Once the pool is free again, the waiter takes the lock.
	if err := direct.RPush(ctx, "app-queue", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	if err := holder.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := within(t, "the waiter", func() error { return <-done }); err != nil {
		t.Fatal(err)
	}
}
