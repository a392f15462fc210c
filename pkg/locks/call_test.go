//go:build unix

package locks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/test/chaos"
)

// Which clients get their calls run directly: only those that put each
// call's deadline on their socket, and never under GuardCalls.
func TestDirectCalls(t *testing.T) {
	addr := []string{"127.0.0.1:1"} // never dialled: New makes no call
	for _, tc := range []struct {
		name   string
		client lockcore.Client
		guard  bool
		want   bool
	}{
		{"default client", redis.NewClient(&redis.Options{Addr: addr[0]}), false, false},
		{"context deadlines", redis.NewClient(&redis.Options{Addr: addr[0], ContextTimeoutEnabled: true}), false, true},
		{"context deadlines, no read timeout (-1)", redis.NewClient(&redis.Options{Addr: addr[0], ContextTimeoutEnabled: true, ReadTimeout: -1}), false, true},
		{"context deadlines, read deadlines off (-2)", redis.NewClient(&redis.Options{Addr: addr[0], ContextTimeoutEnabled: true, ReadTimeout: -2}), false, false},
		{"context deadlines, write deadlines off (-2)", redis.NewClient(&redis.Options{Addr: addr[0], ContextTimeoutEnabled: true, WriteTimeout: -2}), false, false},
		{"context deadlines, GuardCalls", redis.NewClient(&redis.Options{Addr: addr[0], ContextTimeoutEnabled: true}), true, false},
		{"cluster, context deadlines", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addr, ContextTimeoutEnabled: true}), false, true},
		{"cluster, default", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addr}), false, false},
		{"ring, context deadlines", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr[0]}, ContextTimeoutEnabled: true}), false, true},
		{"sentinel, context deadlines", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addr, ContextTimeoutEnabled: true}), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { _ = tc.client.(interface{ Close() error }).Close() })
			l, err := lockcore.New(tc.client, "job", lockcore.Options{GuardCalls: tc.guard})
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Direct(); got != tc.want {
				t.Errorf("direct = %v, want %v", got, tc.want)
			}
		})
	}
}

// On a stalled connection, a call run directly ends at its deadline, as
// the client's socket does, and a cancellation only then; under
// GuardCalls the cancellation ends it at once. Either way it leaves no
// lease behind.
func TestStalledCallDirectOrGuarded(t *testing.T) {
	const attempt = 300 * time.Millisecond
	for _, tc := range []struct {
		name  string
		guard bool
		// the earliest and latest return after the cancel
		atLeast, atMost time.Duration
	}{
		{"direct: ends at the attempt deadline", false, attempt / 2, 10 * attempt},
		{"guarded: ends at the cancel", true, 0, attempt / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, c, direct := proxied(t, redis.Options{ContextTimeoutEnabled: true})
			l, err := lockcore.New(c, "job", lockcore.Options{AttemptTimeout: attempt, GuardCalls: tc.guard})
			if err != nil {
				t.Fatal(err)
			}
			if l.Direct() == tc.guard {
				t.Fatalf("direct = %v with GuardCalls %v", l.Direct(), tc.guard)
			}
			loadScripts(t, direct)
			stalled := p.Arm("evalsha", chaos.Stall)
			ctx, cancel := context.WithCancel(t.Context())
			var canceledAt time.Time
			go func() {
				<-stalled
				canceledAt = time.Now()
				cancel()
			}()
			err = within(t, "TryLock", func() error {
				_, err := locks.MutexOf(l, false).TryLock(ctx, -1, time.Hour)
				return err
			})
			took := time.Since(canceledAt)
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("TryLock: %v, want the cancel or the attempt deadline", err)
			}
			if took < tc.atLeast || took > tc.atMost {
				t.Errorf("TryLock returned %v after the cancel, want %v to %v", took, tc.atLeast, tc.atMost)
			}
			// The stalled acquire reached Redis; its orphan is released by
			// its token, not left for the hour of its lease time.
			wctx, wcancel := context.WithTimeout(t.Context(), hangLimit)
			defer wcancel()
			m, err := locks.MutexOf(newLock(t, direct, "job"), false).TryLock(wctx, hangLimit, time.Hour)
			if err != nil {
				t.Fatalf("TryLock after the stalled one: %v", err)
			}
			_ = m.Release(t.Context())
		})
	}
}
