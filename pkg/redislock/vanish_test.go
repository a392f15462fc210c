//go:build unix

package redislock_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
)

// evictLease fills a Redis under volatile-lru with keys that have no TTL
// until the lease, the only key with one, is evicted; then it frees the
// memory again.
func evictLease(t *testing.T, c *redis.Client, leaseKey string) {
	t.Helper()
	ctx := t.Context()
	used, err := strconv.ParseInt(infoField(t, c, "memory", "used_memory"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+(1<<20), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("x", 64<<10)
	for i := 0; c.Exists(ctx, leaseKey).Val() == 1; i++ {
		if i == 1000 {
			t.Fatal("the lease was never evicted")
		}
		// Once the lease is gone nothing is evictable and writes fail
		// with OOM; the loop ends on the next EXISTS.
		_ = c.Set(ctx, "filler:"+strconv.Itoa(i), filler, 0).Err()
	}
	if n := infoField(t, c, "stats", "evicted_keys"); n == "0" {
		t.Fatal("the lease is gone but Redis evicted nothing")
	}
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "filler:*", 100).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
}

func infoField(t *testing.T, c *redis.Client, section, field string) string {
	t.Helper()
	for line := range strings.SplitSeq(c.Info(t.Context(), section).Val(), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return ""
}

// Regression: when only the lease vanished (maxmemory eviction under a
// volatile-* policy, or an operator's DEL), the fence counter survived, no
// quarantine started, and a candidate that had never seen a fence took the
// lease at once while the old holder still believed in its term.
func TestVanishedLeaseQuarantinesEveryCandidate(t *testing.T) {
	srv := redistest.Start(t, "maxmemory-policy volatile-lru")
	c := srv.Client()
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		vanish func(leaseKey string)
	}{
		{"evicted under volatile-lru", func(k string) { evictLease(t, c, k) }},
		{"deleted by an operator", func(k string) { c.Del(ctx, k) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			holder, waiter := newLock(t, c, "job"), newLock(t, c, "job")
			leaseKey, fenceKey, _ := redislock.Keys(holder)
			c.Del(ctx, leaseKey, fenceKey, redislock.TermKey(holder))
			redistest.KnownStore(t, c, redislock.TermKey(holder))
			const ttl = time.Minute
			s, err := holder.TryAcquire(ctx, "a", ttl)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := waiter.TryAcquire(ctx, "b", ttl); !errors.Is(err, redislock.ErrHeld) {
				t.Fatalf("waiter: %v, want held", err)
			}
			tc.vanish(leaseKey)
			if n := c.Exists(ctx, leaseKey).Val(); n != 0 {
				t.Fatal("lease still there")
			}
			if n := c.Exists(ctx, fenceKey, redislock.TermKey(holder)).Val(); n != 2 {
				t.Fatalf("%d of the counter and term record survived, want both: they have no TTL", n)
			}

			for name, l := range map[string]*redislock.Lock{
				"a waiter that saw the fence":      waiter,
				"a candidate that never saw fence": newLock(t, c, "job"),
			} {
				_, err := l.TryAcquire(ctx, "b", ttl)
				var held *redislock.HeldError
				if !errors.As(err, &held) || held.Holder.Identity != "" || held.Holder.Fence != s.Fence() {
					t.Fatalf("%s: %v, want a quarantine held by \"\" at fence %d", name, err, s.Fence())
				}
				if r := held.Holder.Remaining; r <= 0 || r > ttl {
					t.Errorf("%s: quarantine for %v, want within (0, %v]", name, r, ttl)
				}
			}
			if err := s.Renew(ctx); !errors.Is(err, redislock.ErrLost) {
				t.Errorf("old holder's renew: %v, want ErrLost", err)
			}
			if n := c.Exists(ctx, leaseKey).Val(); n != 0 {
				t.Error("a refused candidate wrote a lease")
			}
		})
	}
}

func TestVanishedLeaseIsFreeOnceItsTermEnded(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, redislock.TermKey(l))
	leaseKey, _, _ := redislock.Keys(l)
	const ttl = 300 * time.Millisecond
	a, err := l.TryAcquire(ctx, "a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	c.Del(ctx, leaseKey)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	b, err := newLock(t, c, "job").Acquire(wctx, "b", ttl, nil)
	if err != nil {
		t.Fatalf("Acquire after the quarantine: %v", err)
	}
	if since := b.SentAt().Sub(a.SentAt()); since < ttl {
		t.Errorf("took over %v after a's acquire, within its TTL %v", since, ttl)
	}
	if b.Fence() <= a.Fence() {
		t.Errorf("fence %d after %d", b.Fence(), a.Fence())
	}
}

func TestReleaseEndsTheTermAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, redislock.TermKey(l))
	a, err := l.TryAcquire(ctx, "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.HGet(ctx, redislock.TermKey(l), "valid_until_us").Val(); got != "0" {
		t.Errorf("term valid_until_us after release = %q, want 0", got)
	}
	b, err := newLock(t, c, "job").TryAcquire(ctx, "b", time.Hour)
	if err != nil {
		t.Fatalf("TryAcquire right after a release: %v, want the lease at once", err)
	}
	// A stale release (a's term is over) must not end b's term.
	if err := a.Release(ctx); !errors.Is(err, redislock.ErrNotHeld) {
		t.Fatalf("stale release: %v", err)
	}
	if got := c.HGet(ctx, redislock.TermKey(l), "fence").Val(); got != strconv.FormatUint(b.Fence(), 10) {
		t.Errorf("term fence = %s, want b's %d", got, b.Fence())
	}
	leaseKey, _, _ := redislock.Keys(l)
	c.Del(ctx, leaseKey)
	if _, err := l.TryAcquire(ctx, "c", time.Hour); !errors.Is(err, redislock.ErrHeld) {
		t.Errorf("after b's lease vanished: %v, want a quarantine", err)
	}
}

func TestRenewExtendsTheTerm(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, redislock.TermKey(l))
	const ttl = time.Minute
	a, err := l.TryAcquire(ctx, "a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	// Pretend the term record lags behind, then renew: only the renew can
	// raise it again.
	c.HSet(ctx, redislock.TermKey(l), "valid_until_us", "1")
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	leaseKey, _, _ := redislock.Keys(l)
	c.Del(ctx, leaseKey)
	_, err = newLock(t, c, "job").TryAcquire(ctx, "b", ttl)
	var held *redislock.HeldError
	if !errors.As(err, &held) || held.Holder.Identity != "" || held.Holder.Remaining < ttl/2 {
		t.Fatalf("after a renew and a DEL: %v, want a quarantine of about %v", err, ttl)
	}
}

// The term record's writes come after PEXPIRE, which needs no memory, so a
// renew keeps working on a Redis that is full under noeviction, as it did
// before there was a term record; a new term cannot start, and writes
// nothing.
func TestRenewOnAFullRedis(t *testing.T) {
	srv := redistest.Start(t, "maxmemory-policy noeviction")
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, redislock.TermKey(l))
	a, err := l.TryAcquire(ctx, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	before := c.HGet(ctx, redislock.TermKey(l), "valid_until_us").Val()
	if err := c.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ConfigSet(context.Background(), "maxmemory", "0") })
	if err := c.Set(ctx, "probe", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("SET on the full Redis: %v, want OOM", err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew on a full Redis: %v", err)
	}
	if after := c.HGet(ctx, redislock.TermKey(l), "valid_until_us").Val(); after <= before {
		t.Errorf("valid_until_us %s after the renew, want above %s", after, before)
	}
	other := newLock(t, c, "other")
	if _, err := other.TryAcquire(ctx, "b", time.Minute); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("acquire on a full Redis: %v, want OOM", err)
	}
	lease, fence, _ := redislock.Keys(other)
	if n := c.Exists(ctx, lease, fence, redislock.TermKey(other)).Val(); n != 0 {
		t.Errorf("an acquire refused for memory wrote %d keys", n)
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("Release on a full Redis: %v", err)
	}
}

func TestTermRecordFormats(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, redislock.TermKey(l))
	leaseKey, fenceKey, _ := redislock.Keys(l)
	termKey := redislock.TermKey(l)

	t.Run("old-format counter alone", func(t *testing.T) {
		c.Del(ctx, leaseKey, fenceKey, termKey)
		ahead := uint64(time.Now().UnixMicro()) + 1_000_000_000
		c.Set(ctx, fenceKey, ahead, 0)
		s, err := l.TryAcquire(ctx, "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if s.Fence() != ahead+1 {
			t.Errorf("fence %d, want counter+1 = %d", s.Fence(), ahead+1)
		}
		if got, _ := c.Get(ctx, fenceKey).Uint64(); got != s.Fence() {
			t.Errorf("counter %d, want %d: it stays a plain string", got, s.Fence())
		}
		if got := c.HGet(ctx, termKey, "fence").Val(); got != strconv.FormatUint(s.Fence(), 10) {
			t.Errorf("term fence %q, want %d", got, s.Fence())
		}
	})

	for _, tc := range []struct {
		name  string
		setup func() error
	}{
		{"string at term", func() error { return c.Set(ctx, termKey, "mine", 0).Err() }},
		{"foreign hash at term", func() error { return c.HSet(ctx, termKey, "user", "x").Err() }},
		{"term without valid_until_us", func() error { return c.HSet(ctx, termKey, "fence", "5").Err() }},
		{"term time above 2^53", func() error {
			return c.HSet(ctx, termKey, "fence", "5", "valid_until_us", "9007199254740993").Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Del(ctx, leaseKey, fenceKey, termKey)
			if err := tc.setup(); err != nil {
				t.Fatal(err)
			}
			before := c.Dump(ctx, termKey).Val()
			_, err := l.TryAcquire(ctx, "a", time.Minute)
			var fe *redislock.ForeignError
			if !errors.As(err, &fe) || fe.Key != termKey {
				t.Fatalf("TryAcquire: %v, want ForeignError at %s", err, termKey)
			}
			if after := c.Dump(ctx, termKey).Val(); after != before {
				t.Error("foreign term value changed")
			}
			if n := c.Exists(ctx, leaseKey, fenceKey).Val(); n != 0 {
				t.Errorf("%d keys written next to a foreign term record", n)
			}
		})
	}

	for _, foreign := range []struct {
		name  string
		write func() error
	}{
		{"string", func() error { return c.Set(ctx, termKey, "someone else's", 0).Err() }},
		{"hash", func() error { return c.HSet(ctx, termKey, "user", "someone else's").Err() }},
	} {
		t.Run("foreign "+foreign.name+" at term during a term stops the renew", func(t *testing.T) {
			c.Del(ctx, leaseKey, fenceKey, termKey)
			redistest.KnownStore(t, c, redislock.TermKey(l))
			// A fresh Lock: l has seen fences above an empty counter, which
			// would start a data-loss quarantine.
			s, err := newLock(t, c, "job").TryAcquire(ctx, "a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			c.Del(ctx, termKey)
			if err := foreign.write(); err != nil {
				t.Fatal(err)
			}
			before := c.Dump(ctx, termKey).Val()
			if err := s.Renew(ctx); !errors.Is(err, redislock.ErrForeign) {
				t.Errorf("Renew: %v, want ErrForeign", err)
			}
			if err := s.Release(ctx); err != nil {
				t.Errorf("Release: %v", err)
			}
			if after := c.Dump(ctx, termKey).Val(); after != before {
				t.Error("foreign term value changed")
			}
		})
	}
}

func TestCheckEvictionPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy string
		risky  bool
	}{
		{"noeviction", false},
		{"volatile-lru", true},
		{"volatile-ttl", true},
		{"allkeys-lru", true},
		{"allkeys-random", true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			srv := redistest.Start(t, "maxmemory-policy "+tc.policy)
			policy, risky, err := redislock.CheckEvictionPolicy(t.Context(), srv.Client())
			if err != nil || policy != tc.policy || risky != tc.risky {
				t.Errorf("CheckEvictionPolicy = %q, %v, %v; want %q, %v, nil", policy, risky, err, tc.policy, tc.risky)
			}
		})
	}
	t.Run("CONFIG denied", func(t *testing.T) {
		srv := redistest.Start(t, "user default off", "user app on >s3cret ~* &* +@all -config")
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "app", Password: "s3cret"})
		t.Cleanup(func() { _ = c.Close() })
		if _, _, err := redislock.CheckEvictionPolicy(t.Context(), c); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("CheckEvictionPolicy without CONFIG: %v, want the NOPERM error", err)
		}
	})
}
