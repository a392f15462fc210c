//go:build unix

package locks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

// TestHandOffCost counts the scripts Redis runs per hand-off with many
// waiters queued: in fair mode a release wakes only the head, so each
// hand-off is the release and the head's try, whatever the number of
// waiters. The plain lock's herd is logged beside it for comparison.
func TestHandOffCost(t *testing.T) {
	const waiters = 20
	for _, fair := range []bool{true, false} {
		name := map[bool]string{true: "fair", false: "plain"}[fair]
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t)
			c := srv.Client()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			// Heartbeats far apart, so that only hand-offs run scripts.
			l, err := lockcore.New(c, "job", lockcore.Options{QueueHeartbeat: lockcore.MaxQueueHeartbeat})
			if err != nil {
				t.Fatal(err)
			}
			lock := locks.MutexOf(l, fair).TryLock
			first, err := lock(ctx, 0, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			_, _, released := l.Keys()
			errs := make(chan error, waiters)
			for i := range waiters {
				go func() {
					m, err := lock(ctx, -1, time.Hour)
					if err == nil {
						err = m.Release(ctx)
					}
					errs <- err
				}()
				if fair {
					_, _, wake := l.QueueKeys()
					eventually(t, 20*time.Second, fmt.Sprintf("waiter %d queued and subscribed", i), func() bool {
						chans, _ := c.PubSubChannels(ctx, wake+"*").Result()
						return queued(t, l) == i+1 && len(chans) == i+1
					})
				} else {
					// All waiters share one pub/sub connection: count
					// them on it.
					eventually(t, 20*time.Second, fmt.Sprintf("waiter %d subscribed", i), func() bool {
						n, _ := c.PubSubNumSub(ctx, released).Result()
						return n[released] == 1 && lockcore.ConfirmedWatchers(c) == i+1
					})
				}
			}
			calls := callsDuring(t, c, func() {
				if err := first.Release(ctx); err != nil {
					t.Fatal(err)
				}
				for range waiters {
					if err := <-errs; err != nil {
						t.Fatal(err)
					}
				}
			})
			scripts := calls["evalsha"] + calls["eval"]
			publishes := calls["publish"]
			// waiters hand-offs, plus the last release.
			perHandOff := float64(scripts-1) / waiters
			t.Logf("FIGURE hand-off cost %s, %d waiters: %.2f scripts and %.2f PUBLISH per hand-off", name, waiters, perHandOff, float64(publishes)/waiters)
			// A waiter's try that follows its subscription may still run
			// after the count began, so allow a few more; a herd would be
			// about waiters/2 per hand-off.
			if fair && (perHandOff > 2.5 || publishes != waiters+1) {
				t.Errorf("fair: %d scripts and %d PUBLISH for %d hand-offs and the last release, want 2 scripts (the release and the head's try) and 1 PUBLISH each",
					scripts, publishes, waiters)
			}
		})
	}
}
