package election_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
)

// store stands for any system the leader writes to that can refuse a stale
// writer: it remembers the highest fence it has accepted.
type store struct{ highest uint64 }

func (s *store) write(fence uint64, what string) error {
	if fence < s.highest {
		return fmt.Errorf("stale leader: fence %d below %d", fence, s.highest)
	}
	s.highest = fence
	fmt.Println("wrote", what)
	return nil
}

// Example runs the nightly report on exactly one replica. The work gets a
// context that ends the moment leadership does, and passes its term's
// fence to the store, which refuses any older term.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	lock, err := redislock.New(client, "nightly-report", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// Run campaigns until ctx ends: here, once the report is written.
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	db := &store{}
	e, err := election.New(election.Config{
		Locker:   redislock.NewLocker(lock),
		Name:     "nightly-report",
		Identity: "replica-1", // in Kubernetes, the pod's name
		// A store that has never seen the lock holds its first term back
		// for one LeaseTTL (default 15s).
		LeaseTTL: 2 * time.Second,
		OnStartedLeading: func(ctx context.Context, term election.Term) {
			for _, part := range []string{"sales", "stock", "returns"} {
				if ctx.Err() != nil {
					return // leadership ended: stop at once
				}
				if err := db.write(term.Fence, part); err != nil {
					return
				}
			}
			stop() // done: step down and release the lock
		},
	})
	if err != nil {
		log.Fatal(err) // a *field.Error names the field and the rule
	}
	// Run returns after the step-down and the release.
	if err := e.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("leading after Run:", e.IsLeader())
	// Output:
	// wrote sales
	// wrote stock
	// wrote returns
	// leading after Run: false
}

// ExampleElector_Resign hands leadership over when this replica's work is
// done: from inside the work, with the work's own context, Resign returns
// as soon as the term has ended, and the lock is released when the work
// returns. Two replicas, here in one process, take turns.
func ExampleElector_Resign() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	drained := make(chan string, 2)
	var wg sync.WaitGroup
	for _, id := range []string{"replica-1", "replica-2"} {
		lock, err := redislock.New(client, "queue-drain", redislock.Options{})
		if err != nil {
			log.Fatal(err)
		}
		var e *election.Elector
		e, err = election.New(election.Config{
			Locker:   redislock.NewLocker(lock),
			Name:     "queue-drain",
			Identity: id,
			LeaseTTL: 2 * time.Second,
			OnStartedLeading: func(ctx context.Context, term election.Term) {
				// ... drain the queue, under term.Fence ...
				// Work finished: let another replica take the next turn,
				// and stay out of the election for a minute.
				if _, err := e.Resign(ctx, time.Minute); err != nil {
					log.Print(err)
				}
				fmt.Println(id, "drained the queue; still leading:", ctx.Err() == nil)
				drained <- id
			},
		})
		if err != nil {
			log.Fatal(err)
		}
		wg.Go(func() { _ = e.Run(ctx) })
	}
	for range 2 {
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
	stop()
	wg.Wait()
	// Unordered output:
	// replica-1 drained the queue; still leading: false
	// replica-2 drained the queue; still leading: false
}
