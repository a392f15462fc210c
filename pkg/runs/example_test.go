package runs_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/runs"
)

// One replica claims tonight's window and records its success; another,
// later, learns that the window is done and by whom.
func ExampleJob_Claim() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx := context.Background()
	a, _ := runs.New(client, "example-report", runs.Options{Identity: "server-a"})
	b, _ := runs.New(client, "example-report", runs.Options{Identity: "server-b"})

	run, err := a.Claim(ctx, "2026-12-07", time.Minute, time.Time{})
	if err != nil {
		panic(err)
	}
	fmt.Println("server-a runs window", run.Window, "attempt", run.Attempt)
	// ... the work, passing run.Fence to the stores it writes ...
	if err := run.Complete(ctx, runs.Succeeded); err != nil {
		panic(err)
	}

	_, err = b.Claim(ctx, "2026-12-07", time.Minute, time.Time{})
	var refused *runs.ClaimError
	if errors.As(err, &refused) && errors.Is(err, runs.ErrSucceeded) {
		fmt.Println("server-b: already", refused.Last.Status, "by", refused.Last.Identity,
			"with fence", refused.Last.Fence == run.Fence)
	}
	// Output:
	// server-a runs window 2026-12-07 attempt 1
	// server-b: already succeeded by server-a with fence true
}

// A failed attempt is retried, by any replica, up to MaxAttempts.
func ExampleRun_Complete_retry() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx := context.Background()
	job, _ := runs.New(client, "example-import", runs.Options{MaxAttempts: 2})

	for {
		run, err := job.Claim(ctx, "batch-17", time.Minute, time.Time{})
		if errors.Is(err, runs.ErrExhausted) {
			fmt.Println("giving up on batch-17")
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println("attempt", run.Attempt, "failed")
		_ = run.Complete(ctx, runs.Failed)
	}
	info, _ := job.Inspect(ctx)
	fmt.Println("recorded runs:", len(info.Recent), "last failure: attempt", info.LastFailure.Attempt)
	// Output:
	// attempt 1 failed
	// attempt 2 failed
	// giving up on batch-17
	// recorded runs: 2 last failure: attempt 2
}

// A schedule's windows: the one due at a given Redis time, its name, and
// when the next one opens. Claim's close is the next window's start.
func ExampleSchedule() {
	s, err := runs.ParseSchedule("0 3 * * *", "Europe/Berlin")
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC) // in practice: job.Now(ctx)
	start := s.Window(now)
	fmt.Println("window:", runs.WindowName(start))
	fmt.Println("closes:", runs.WindowName(s.Next(now)))

	every, _ := runs.ParseSchedule("@every 10s", "")
	fmt.Println("@every 10s at 09:30:07:", runs.WindowName(every.Window(now.Add(7*time.Second))))
	// Output:
	// window: 2026-12-07T02:00:00Z
	// closes: 2026-12-08T02:00:00Z
	// @every 10s at 09:30:07: 2026-12-07T09:30:00Z
}
