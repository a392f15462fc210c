package lockcore_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	redislock "github.com/baton-dev/baton/internal/lockcore"
)

// The examples need a Redis server, so they are compiled and vetted but not
// run (they have no Output comment).

// TryLockFair serves waiters in arrival order: a web server that must
// update one account waits in line rather than racing every other waiter
// at each release.
func ExampleLock_TryLockFair() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
	defer client.Close()
	// A waiter that dies frees its place within about 3 heartbeats.
	lock, err := redislock.New(client, "account-1842", redislock.Options{QueueHeartbeat: 200 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// Wait up to 5s in the queue; hold for at most 30s, no watchdog.
	m, err := lock.TryLockFair(ctx, 5*time.Second, 30*time.Second)
	var held *redislock.HeldError
	if errors.As(err, &held) {
		log.Printf("busy: %v (%d waiting before us)", held, held.Ahead)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer m.Unlock(ctx)
	// ... read-modify-write the account, passing m.Fence() to the store;
	// a long step can extend the lease:
	if err := m.Renew(ctx); err != nil {
		log.Printf("lock lost, stopping: %v", err)
	}
}

// Inspect tells who holds a lock, for how long, and how many wait.
func ExampleLock_Inspect() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
	defer client.Close()
	lock, err := redislock.New(client, "account-1842", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	info, err := lock.Inspect(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	if info.Held {
		log.Printf("held by %q (fence %d) for %v more; %d queued", info.Holder, info.Fence, info.Remaining, info.Queue)
	}
}

// A semaphore lets at most N holders in at once, each permit with its own
// lease: here at most 3 exports run against the warehouse at a time, and a
// crashed exporter's permit comes back when its lease runs out.
func ExampleSemaphore_TryAcquire() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
	defer client.Close()
	sem, err := redislock.NewSemaphore(client, "warehouse-export", 3, redislock.SemaphoreOptions{Fair: true})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// leaseTime 0: a watchdog renews the permit until Release.
	p, err := sem.TryAcquire(ctx, time.Minute, 0)
	if errors.Is(err, redislock.ErrTimeout) {
		log.Print("three exports are running; try later")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := p.Release(ctx); err != nil {
			log.Printf("release: %v", err)
		}
	}()
	select {
	case <-p.Lost():
		log.Printf("permit lost, stopping: %v", p.Err())
	default:
		// ... run the export, tagging its writes with p.Fence() ...
	}
}
