package election_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
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
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	lock, err := redislock.New(client, "nightly-report", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	db := &store{}
	e, err := election.New(election.Config{
		Locker:   election.RedisLocker(lock),
		Name:     "nightly-report",
		Identity: os.Getenv("POD_NAME"),
		LeaseTTL: 15 * time.Second,
		OnStartedLeading: func(ctx context.Context, term election.Term) {
			for ctx.Err() == nil {
				if err := db.write(term.Fence, "one unit of the report"); err != nil {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		},
		Logger: slog.Default(),
	})
	if err != nil {
		log.Fatal(err) // a *field.Error names the field and the rule
	}
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	// Run returns after the step-down and the release.
	if err := e.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// ExampleElector_Resign hands leadership over when this replica's work is
// done: from inside the work, with the work's own context, Resign returns
// as soon as the term has ended, and the lock is released when the work
// returns.
func ExampleElector_Resign() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	lock, err := redislock.New(client, "queue-drain", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	var e *election.Elector
	e, err = election.New(election.Config{
		Locker:   election.RedisLocker(lock),
		Name:     "queue-drain",
		Identity: "replica-1",
		OnStartedLeading: func(ctx context.Context, term election.Term) {
			fmt.Println("draining under fence", term.Fence)
			// Work finished: let another replica take the next turn, and
			// stay out of the election for a minute.
			if _, err := e.Resign(ctx, time.Minute); err != nil {
				log.Print(err)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	_ = e.Run(ctx)
}
