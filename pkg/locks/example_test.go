package locks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/pkg/redislock"
)

// A mutex with the watchdog: the lease is renewed until Release, and the
// work stops if Lost is closed.
func ExampleMutex_TryLock() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	mu, err := locks.NewMutex(client, "nightly-report", locks.Options{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// Wait up to 10s for the lock; lease time 0 starts the watchdog.
	held, err := mu.TryLock(ctx, 10*time.Second, 0)
	if errors.Is(err, locks.ErrTimeout) {
		fmt.Println("someone else is writing the report")
		return
	}
	if err != nil {
		panic(err)
	}
	for step := range 3 {
		select {
		case <-held.Lost():
			fmt.Println("lock lost, stopping:", held.Err())
			return
		default:
		}
		fmt.Println("step", step)
	}
	if err := held.Release(ctx); err != nil {
		fmt.Println("release:", err)
	}
	// Output:
	// step 0
	// step 1
	// step 2
}

// A second owner that finds the lock held learns who holds it.
func ExampleMutex_TryLock_busy() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx := context.Background()
	shop1, _ := locks.NewMutex(client, "stock-42", locks.Options{Identity: "shop-1"})
	shop2, _ := locks.NewMutex(client, "stock-42", locks.Options{Identity: "shop-2"})

	held, err := shop1.TryLock(ctx, 0, 30*time.Second)
	if err != nil {
		panic(err)
	}
	defer held.Release(ctx)

	// Wait time 0: one try.
	_, err = shop2.TryLock(ctx, 0, 30*time.Second)
	var busy *locks.HeldError
	if errors.As(err, &busy) {
		fmt.Println("timed out:", errors.Is(err, locks.ErrTimeout))
		fmt.Println("held by:", busy.Holder.Identity)
	}
	// Output:
	// timed out: true
	// held by: shop-1
}

// A fair mutex serves its waiters in arrival order. A lease time above 0
// has no watchdog: the holder renews it when a step runs long.
func ExampleOptions_fair() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	mu, err := locks.NewMutex(client, "account-1842", locks.Options{Fair: true})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	held, err := mu.TryLock(ctx, 5*time.Second, 30*time.Second)
	if err != nil {
		panic(err)
	}
	// ... a long step of the read-modify-write ...
	if err := held.Renew(ctx); err != nil {
		fmt.Println("lock lost, stopping:", err)
		return
	}
	fmt.Println("renewed for", held.TTL())
	if err := held.Release(ctx); err != nil {
		fmt.Println("release:", err)
	}
	// Output:
	// renewed for 30s
}

// fencedStore is a downstream service's side of fencing: it accepts a
// write only with a fence at least as new as the newest it has seen.
type fencedStore struct {
	mu     sync.Mutex
	newest uint64
}

func (s *fencedStore) Write(fence uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence < s.newest {
		return fmt.Errorf("stale fence: a newer holder wrote")
	}
	s.newest = fence
	return nil
}

// The fence travels with every write, so a former holder that still
// believes in its lock is turned away by the store.
func ExampleHeld_Fence() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx := context.Background()
	mu, _ := locks.NewMutex(client, "inventory", locks.Options{})
	store := &fencedStore{}

	old, err := mu.TryLock(ctx, 0, 100*time.Millisecond)
	if err != nil {
		panic(err)
	}
	// The old holder pauses past its lease, and a new one takes over.
	now, err := mu.TryLock(ctx, 5*time.Second, 30*time.Second)
	if err != nil {
		panic(err)
	}
	defer now.Release(ctx)
	fmt.Println("new holder's write:", store.Write(now.Fence()))
	fmt.Println("old holder's write:", store.Write(old.Fence()))
	// Output:
	// new holder's write: <nil>
	// old holder's write: stale fence: a newer holder wrote
}

// WithOwner makes TryLock reentrant: a function that locks can call
// another that takes the same lock.
func ExampleWithOwner() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	mu, _ := locks.NewMutex(client, "ledger", locks.Options{})

	post := func(ctx context.Context) {
		held, err := mu.TryLock(ctx, time.Second, 0) // re-enters
		if err != nil {
			panic(err)
		}
		fmt.Println("holds while posting:", held.Holds())
		_ = held.Release(ctx)
	}
	ctx := locks.WithOwner(context.Background())
	held, err := mu.TryLock(ctx, time.Second, 0)
	if err != nil {
		panic(err)
	}
	post(ctx)
	_ = held.Release(ctx) // the last Release releases the lease
	fmt.Println("holds after:", held.Holds())
	// Output:
	// holds while posting: 2
	// holds after: 0
}

// A semaphore lets at most N holders in at once, each permit with its own
// lease and fence.
func ExampleSemaphore_TryLock() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx := context.Background()
	sem, err := locks.NewSemaphore(client, "warehouse-export", 2, locks.Options{})
	if err != nil {
		panic(err)
	}
	var permits []*locks.Held
	for range 3 {
		p, err := sem.TryLock(ctx, 0, time.Minute)
		if errors.Is(err, locks.ErrTimeout) {
			fmt.Println("third export: try later")
			continue
		}
		if err != nil {
			panic(err)
		}
		permits = append(permits, p)
	}
	fmt.Println("exports running:", len(permits))
	for _, p := range permits {
		_ = p.Release(ctx)
	}
	// Output:
	// third export: try later
	// exports running: 2
}

// Inspect tells who holds a lock and how many wait, without writing.
func ExampleMutex_Inspect() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx := context.Background()
	mu, _ := locks.NewMutex(client, "account-7", locks.Options{Identity: "web-3"})
	held, err := mu.TryLock(ctx, 0, time.Minute)
	if err != nil {
		panic(err)
	}
	defer held.Release(ctx)

	info, err := mu.Inspect(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("held:", info.Held, "by", info.Holder, "queued:", info.Queue)
	// Output:
	// held: true by web-3 queued: 0
}

// Options.Lease holds the options of the lease underneath, such as the
// key prefix and the bound of each call to Redis.
func ExampleNewMutex() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	mu, err := locks.NewMutex(client, "orders", locks.Options{
		Lease:           redislock.Options{Prefix: "shop", AttemptTimeout: 2 * time.Second},
		WatchdogTimeout: 10 * time.Second,
	})
	fmt.Println(mu.Name(), err)
	_, err = locks.NewMutex(client, "no spaces", locks.Options{})
	fmt.Println(errors.Is(err, locks.ErrInvalid))
	// Output:
	// orders <nil>
	// true
}
