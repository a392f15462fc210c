package lockcore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	redislock "github.com/baton-dev/baton/internal/lockcore"
)

// The examples need a Redis server, so they are compiled and vetted but not
// run (they have no Output comment).

// TryLock with the watchdog: the lease is renewed until Unlock, and the work
// stops when Lost is closed.
func ExampleLock_TryLock() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
	defer client.Close()
	lock, err := redislock.New(client, "nightly-report", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// Wait up to 10s for the lock; leaseTime 0 starts the watchdog.
	m, err := lock.TryLock(ctx, 10*time.Second, 0)
	if errors.Is(err, redislock.ErrTimeout) {
		log.Print("someone else is writing the report")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := m.Unlock(ctx); err != nil {
			log.Printf("unlock: %v", err)
		}
	}()

	for step := range 100 {
		select {
		case <-m.Lost():
			log.Printf("lock lost at step %d, stopping: %v", step, m.Err())
			return
		default:
		}
		// ... one step of the work ...
	}
}

// fencedStore is a downstream service's side of fencing: it accepts a
// write only with a fence at least as new as the newest it has seen, so a
// former holder that still believes in its lock is turned away.
type fencedStore struct {
	mu     sync.Mutex
	newest uint64
	value  string
}

func (s *fencedStore) Write(fence uint64, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence < s.newest {
		return fmt.Errorf("stale fence %d, newest is %d", fence, s.newest)
	}
	s.newest, s.value = fence, value
	return nil
}

// The fencing token travels with every write the holder makes, and the
// downstream service compares it.
func ExampleLocked_Fence() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
	defer client.Close()
	lock, err := redislock.New(client, "inventory", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	store := &fencedStore{}

	m, err := lock.TryLock(ctx, 5*time.Second, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Unlock(ctx)
	if err := store.Write(m.Fence(), "42 widgets"); err != nil {
		log.Printf("write refused, this holder is out of date: %v", err)
	}
}

// WithOwner makes TryLock reentrant: a function that locks can call another
// that takes the same lock.
func ExampleWithOwner() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
	defer client.Close()
	lock, err := redislock.New(client, "ledger", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}

	post := func(ctx context.Context) error {
		m, err := lock.TryLock(ctx, time.Second, 0) // re-enters under the caller's hold
		if err != nil {
			return err
		}
		defer m.Unlock(ctx)
		// ... write one entry ...
		return nil
	}
	closeDay := func(ctx context.Context) error {
		m, err := lock.TryLock(ctx, time.Second, 0)
		if err != nil {
			return err
		}
		defer m.Unlock(ctx) // the last Unlock releases the lease
		return post(ctx)
	}

	if err := closeDay(redislock.WithOwner(context.Background())); err != nil {
		log.Fatal(err)
	}
}

// Warn at startup when Redis may evict a lock's keys.
func ExampleCheckEvictionPolicy() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	policy, risky, err := redislock.CheckEvictionPolicy(ctx, client)
	switch {
	case err != nil:
		log.Printf("could not check maxmemory-policy (CONFIG may be denied): %v", err)
	case risky:
		log.Printf("maxmemory-policy %s may evict lock keys; use noeviction", policy)
	}
}
