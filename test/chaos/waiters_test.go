//go:build linux

package chaos

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
)

// commandCalls reads INFO commandstats: calls per command.
func commandCalls(t *testing.T, c *redis.Client) map[string]int64 {
	t.Helper()
	calls, err := redistest.CommandCalls(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

func sum(m map[string]int64) int64 {
	var n int64
	for k, v := range m {
		if k != "info" {
			n += v
		}
	}
	return n
}

// TestFiftyWaiters: 50 waiters on one lock, in process. Each release has
// exactly one winner, nobody polls while the lock is held, and the commands
// per release stay bounded by the number of waiters.
func TestFiftyWaiters(t *testing.T) {
	const (
		waiters = 50
		ttl     = 10 * time.Second // no expiry: every handover is a release
		hold    = 5 * time.Millisecond
	)
	srv := redistest.Start(t)
	admin := srv.Client()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 2 * waiters})
	t.Cleanup(func() { _ = client.Close() })
	lock, err := redislock.New(client, "fifty", redislock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	redistest.KnownStore(t, admin, keyOf(redislock.DefaultPrefix, "fifty", "term")) // no unknown-store quarantine
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// A first holder keeps the lock while every waiter queues up, to
	// measure the load of idle waiters.
	first, err := lock.TryAcquire(ctx, "first", ttl)
	if err != nil {
		t.Fatal(err)
	}
	var (
		holding  atomic.Int32
		wins     atomic.Int32
		overlaps atomic.Int32
		mu       sync.Mutex
		fences   []uint64
		started  sync.WaitGroup
		wg       sync.WaitGroup
	)
	started.Add(waiters)
	for i := range waiters {
		wg.Go(func() {
			id := "w" + strconv.Itoa(i)
			var once sync.Once
			lease, err := lock.Acquire(ctx, id, ttl, func(redislock.Holder) { once.Do(started.Done) })
			if err != nil {
				t.Errorf("%s: %v", id, err)
				once.Do(started.Done)
				return
			}
			once.Do(started.Done)
			if holding.Add(1) != 1 {
				overlaps.Add(1)
			}
			wins.Add(1)
			mu.Lock()
			fences = append(fences, lease.Fence())
			mu.Unlock()
			time.Sleep(hold)
			holding.Add(-1)
			if err := lease.Release(context.Background()); err != nil {
				t.Errorf("%s: release: %v", id, err)
			}
		})
	}
	started.Wait()
	// Once every waiter has subscribed and tried again, nobody polls while
	// the lock stays held: some half-second window must be (nearly) silent.
	var idle int64 = -1
	for range 20 {
		from := sum(commandCalls(t, admin))
		time.Sleep(500 * time.Millisecond)
		idle = sum(commandCalls(t, admin)) - from
		if idle <= 5 {
			break
		}
	}
	before := commandCalls(t, admin)
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	after := commandCalls(t, admin)

	if overlaps.Load() != 0 {
		t.Errorf("%d overlapping holders", overlaps.Load())
	}
	if wins.Load() != waiters {
		t.Errorf("%d winners for %d releases", wins.Load(), waiters)
	}
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Errorf("fence %d after %d", fences[i], fences[i-1])
		}
	}
	scripts := (after["evalsha"] + after["eval"]) - (before["evalsha"] + before["eval"])
	total := sum(after) - sum(before)
	// Release k wakes the (waiters-k) still waiting, and each tries once:
	// about waiters²/2 acquires, plus one release per winner.
	bound := int64(waiters*(waiters+1)/2 + 2*waiters)
	t.Logf("50 waiters: %d commands in 500ms while held (idle); %d scripts and %d commands for %d releases (%.1f per release, bound %d scripts)",
		idle, scripts, total, waiters, float64(total)/waiters, bound)
	var deltas []string
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			deltas = append(deltas, k+"="+strconv.FormatInt(d, 10))
		}
	}
	t.Logf("commands by name: %s", strings.Join(deltas, " "))
	if idle > 5 {
		t.Errorf("%d commands in the quietest 500ms while the lock was held; waiters must not poll", idle)
	}
	if scripts > bound {
		t.Errorf("%d scripts for %d releases, want at most %d", scripts, waiters, bound)
	}
	// commandstats also counts the commands that scripts run (at most
	// eight in acquire.lua).
	if total > 8*bound {
		t.Errorf("%d commands for %d releases, want at most %d", total, waiters, 8*bound)
	}
}
