package runs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/runs"
)

// newJob returns job name on client, failing the test on an error.
func newJob(t *testing.T, client redis.UniversalClient, name string, opts runs.Options) *runs.Job {
	t.Helper()
	j, err := runs.New(client, name, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return j
}

// server starts a redis-server of the test's own and returns a client.
func server(t *testing.T) *redis.Client {
	t.Helper()
	return redistest.Start(t).Client()
}

// claim claims window, failing the test on an error.
func claim(t *testing.T, j *runs.Job, window string, lease time.Duration) *runs.Run {
	t.Helper()
	r, err := j.Claim(t.Context(), window, lease, time.Time{})
	if err != nil {
		t.Fatalf("Claim(%q): %v", window, err)
	}
	return r
}

// refused claims window and returns the *ClaimError, failing the test
// unless the claim is refused with want.
func refused(t *testing.T, j *runs.Job, window string, want error) *runs.ClaimError {
	t.Helper()
	r, err := j.Claim(t.Context(), window, time.Second, time.Time{})
	var ce *runs.ClaimError
	if !errors.As(err, &ce) || !errors.Is(err, want) {
		t.Fatalf("Claim(%q) = %+v, %v; want a *ClaimError matching %v", window, r, err, want)
	}
	return ce
}

// stale fails the test unless err is a *StaleError.
func stale(t *testing.T, what string, err error) *runs.StaleError {
	t.Helper()
	var se *runs.StaleError
	if !errors.As(err, &se) || !errors.Is(err, runs.ErrStale) {
		t.Fatalf("%s: %v, want a *StaleError", what, err)
	}
	return se
}

// inspect reads j's record, failing the test on an error.
func inspect(t *testing.T, j *runs.Job) runs.Info {
	t.Helper()
	info, err := j.Inspect(t.Context())
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return info
}

// eventually waits until cond holds, checking every few milliseconds, and
// fails the test after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// dump is every key under prefix with its type and value, for comparing
// Redis before and after a refused call.
func dump(t *testing.T, c *redis.Client, pattern string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys, err := c.Keys(ctx, pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		switch c.Type(ctx, k).Val() {
		case "hash":
			out[k] = fmt.Sprint(c.HGetAll(ctx, k).Val())
		case "list":
			out[k] = fmt.Sprint(c.LRange(ctx, k, 0, -1).Val())
		default:
			out[k] = c.Get(ctx, k).Val()
		}
	}
	return out
}
