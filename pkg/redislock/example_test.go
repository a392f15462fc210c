package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/redislock"
)

// Acquire waits on the release channel until the lease is free. On a
// store that has never seen the lock, the first term waits one TTL: Redis
// may have lost a term that a holder still believes in.
func ExampleLock_Acquire() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	lock, err := redislock.New(client, "nightly-report", redislock.Options{})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	lease, err := lock.Acquire(ctx, "replica-1", time.Second, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("leading with a fence:", lease.Fence() > 0)
	// A renew extends the lease by its TTL, counted from when it was sent.
	if err := lease.Renew(ctx); err != nil {
		fmt.Println("lost, stop leading:", err)
	}
	fmt.Println("released:", lease.Release(ctx))
	// Output:
	// leading with a fence: true
	// released: <nil>
}

// TryAcquire makes one try; a lease held by another names its holder.
func ExampleLock_TryAcquire() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	lock, _ := redislock.New(client, "queue-drain", redislock.Options{})
	ctx := context.Background()

	// A first term on a new store waits one TTL (here 1s); its release
	// leaves the store known, and the next term starts at once.
	first, err := lock.Acquire(ctx, "replica-1", time.Second, nil)
	if err != nil {
		panic(err)
	}
	_ = first.Release(ctx)
	second, err := lock.TryAcquire(ctx, "replica-1", 30*time.Second)
	if err != nil {
		panic(err)
	}
	defer second.Release(ctx)
	_, err = lock.TryAcquire(ctx, "replica-2", 30*time.Second)
	var held *redislock.HeldError
	if errors.As(err, &held) {
		fmt.Println("held by", held.Holder.Identity)
	}
	// Output:
	// held by replica-1
}

// Watch hears every release of the lock after it returns.
func ExampleLock_Watch() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	lock, _ := redislock.New(client, "watched", redislock.Options{})
	ctx := context.Background()

	lease, err := lock.Acquire(ctx, "replica-1", time.Second, nil)
	if err != nil {
		panic(err)
	}
	w, err := lock.Watch(ctx)
	if err != nil {
		panic(err)
	}
	defer w.Close()
	_ = lease.Release(ctx)
	start := time.Now()
	// Without a release message, Wait would return after a minute.
	_ = w.Wait(ctx, time.Minute)
	fmt.Println("woken by the release:", time.Since(start) < 50*time.Second)
	// Output:
	// woken by the release: true
}

// Warn at start-up when Redis may evict a lock's keys.
func ExampleCheckEvictionPolicy() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	policy, risky, err := redislock.CheckEvictionPolicy(ctx, client)
	switch {
	case err != nil:
		fmt.Println("could not check maxmemory-policy (CONFIG may be denied):", err)
	case risky:
		fmt.Printf("maxmemory-policy %s may evict lock keys; use noeviction\n", policy)
	default:
		fmt.Println("maxmemory-policy", policy)
	}
	// Output:
	// maxmemory-policy noeviction
}
