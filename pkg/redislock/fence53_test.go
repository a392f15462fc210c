//go:build unix

package redislock_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
)

// Regression: Lua counts in doubles. A counter of 9007199254740993 (2^53+1)
// gave the fence 9007199254740992, and the counter was rewritten lower. A
// counter that Lua cannot count on exactly is now a foreign value.
func TestFencesPast2To53AreForeign(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	leaseKey, fenceKey, _ := redislock.Keys(l)

	for _, counter := range []string{
		"9007199254740993",     // 2^53 + 1: rounds down in Lua
		"9007199254740992",     // 2^53: its successor rounds back to it
		"9007199254740991",     // 2^53 - 1 = MaxFence: no exact next fence
		"18446744073709551615", // 2^64 - 1
		"123456789012345678901234567890",
	} {
		t.Run("counter "+counter, func(t *testing.T) {
			c.Del(ctx, leaseKey, fenceKey, redislock.TermKey(l))
			c.Set(ctx, fenceKey, counter, 0)
			_, err := l.TryAcquire(ctx, "a", time.Minute)
			var fe *redislock.ForeignError
			if !errors.As(err, &fe) || fe.Key != fenceKey {
				t.Fatalf("TryAcquire: %v, want ForeignError at %s", err, fenceKey)
			}
			if got := c.Get(ctx, fenceKey).Val(); got != counter {
				t.Errorf("counter rewritten to %s", got)
			}
			if n := c.Exists(ctx, leaseKey, redislock.TermKey(l)).Val(); n != 0 {
				t.Errorf("%d keys written", n)
			}
		})
	}

	t.Run("counter just below MaxFence", func(t *testing.T) {
		c.Del(ctx, leaseKey, fenceKey, redislock.TermKey(l))
		c.Set(ctx, fenceKey, strconv.FormatUint(redislock.MaxFence-1, 10), 0)
		s, err := l.TryAcquire(ctx, "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if s.Fence() != redislock.MaxFence {
			t.Errorf("fence %d, want MaxFence %d", s.Fence(), uint64(redislock.MaxFence))
		}
		_ = s.Release(ctx)
	})

	t.Run("lease fence past 2^53", func(t *testing.T) {
		c.Del(ctx, leaseKey, fenceKey, redislock.TermKey(l))
		c.HSet(ctx, leaseKey, "owner", "t", "holder", "h", "fence", "9007199254740993")
		c.PExpire(ctx, leaseKey, time.Minute)
		if _, err := l.TryAcquire(ctx, "a", time.Minute); !errors.Is(err, redislock.ErrForeign) {
			t.Fatalf("TryAcquire: %v, want ErrForeign", err)
		}
	})
}
