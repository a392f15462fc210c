//go:build unix

package locks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

func newLock(t *testing.T, c lockcore.Client, name string) *lockcore.Lock {
	t.Helper()
	l, err := lockcore.New(c, name, lockcore.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func TestAcquireRenewRelease(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, l.TermKey())

	a, err := l.TryAcquire(ctx, "a", 10*time.Second)
	if err != nil {
		t.Fatalf("TryAcquire a: %v", err)
	}
	leaseKey, fenceKey, _ := l.Keys()
	if got := c.HGet(ctx, leaseKey, "holder").Val(); got != "a" {
		t.Errorf("holder in Redis = %q, want a", got)
	}
	if got, _ := c.Get(ctx, fenceKey).Uint64(); got != a.Fence() {
		t.Errorf("fence counter = %d, want %d", got, a.Fence())
	}

	_, err = l.TryAcquire(ctx, "b", 10*time.Second)
	var held *lockcore.HeldError
	if !errors.As(err, &held) || !errors.Is(err, lockcore.ErrHeld) {
		t.Fatalf("TryAcquire b: err = %v, want HeldError", err)
	}
	if held.Holder.Identity != "a" || held.Holder.Fence != a.Fence() || held.Holder.Remaining <= 0 || held.Holder.Remaining > 10*time.Second {
		t.Errorf("held = %+v, want holder a fence %d remaining in (0,10s]", held.Holder, a.Fence())
	}

	c.PExpire(ctx, leaseKey, time.Second)
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if pttl := c.PTTL(ctx, leaseKey).Val(); pttl <= 5*time.Second {
		t.Errorf("PTTL after renew = %v, want close to 10s", pttl)
	}

	if err := a.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if n := c.Exists(ctx, leaseKey).Val(); n != 0 {
		t.Errorf("lease key still exists after release")
	}
	if err := a.Release(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
		t.Errorf("second Release: err = %v, want ErrNotHeld", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, lockcore.ErrLost) {
		t.Errorf("Renew after release: err = %v, want ErrLost", err)
	}

	b, err := l.TryAcquire(ctx, "b", 10*time.Second)
	if err != nil {
		t.Fatalf("TryAcquire b after release: %v", err)
	}
	if b.Fence() <= a.Fence() {
		t.Errorf("fence did not grow: %d then %d", a.Fence(), b.Fence())
	}
	if err := a.Renew(ctx); !errors.Is(err, lockcore.ErrLost) {
		t.Errorf("Renew of a while b holds: err = %v, want ErrLost", err)
	}
	var lost *lockcore.LostError
	if errors.As(a.Renew(ctx), &lost); lost == nil || lost.Holder != "b" {
		t.Errorf("LostError = %+v, want holder b", lost)
	}
	if err := a.Release(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
		t.Errorf("Release by a while b holds: err = %v, want ErrNotHeld", err)
	}
	if got := c.HGet(ctx, leaseKey, "holder").Val(); got != "b" {
		t.Errorf("a's release touched b's lease: holder = %q", got)
	}
}

func TestRenewTransportErrorIsNotLost(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, l.TermKey())
	s, err := l.TryAcquire(t.Context(), "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	err = s.Renew(t.Context())
	if err == nil || errors.Is(err, lockcore.ErrLost) {
		t.Fatalf("Renew with Redis down: err = %v, want a transport error that is not ErrLost", err)
	}
}

func TestReleaseWakesWaiter(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, l.TermKey())
	a, err := l.TryAcquire(t.Context(), "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// With an hour-long lease, only the release message can wake the waiter
	// before the context's deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	heldSeen := make(chan lockcore.Holder, 16)
	done := make(chan error, 1)
	go func() {
		b, err := l.Acquire(ctx, "b", time.Hour, func(h lockcore.Holder) { heldSeen <- h })
		if err == nil && b.Identity() != "b" {
			err = errors.New("wrong identity")
		}
		done <- err
	}()
	// The waiter reports the holder after its try that follows the subscribe.
	for range 2 {
		if h := <-heldSeen; h.Identity != "a" {
			t.Fatalf("waiter saw holder %q, want a", h.Identity)
		}
	}
	if err := a.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

func TestCrashFailoverAtTTL(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, l.TermKey())
	const ttl = 300 * time.Millisecond
	start := time.Now()
	a, err := l.TryAcquire(t.Context(), "a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// No release: "a" crashed. The waiter must take over when the PTTL runs
	// out, and never before.
	b, err := l.Acquire(ctx, "b", ttl, nil)
	if err != nil {
		t.Fatalf("Acquire after crash: %v", err)
	}
	if since := b.SentAt().Sub(start); since < ttl {
		t.Errorf("took over %v after a's acquire, before its TTL %v", since, ttl)
	}
	if b.Fence() <= a.Fence() {
		t.Errorf("fence %d after %d", b.Fence(), a.Fence())
	}
}

func TestForeignValuesAreNeverTouched(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	leaseKey, fenceKey, _ := l.Keys()

	cases := []struct {
		name  string
		key   string
		setup func() error
	}{
		{"string at lease", leaseKey, func() error { return c.Set(ctx, leaseKey, "mine", time.Hour).Err() }},
		{"string at lease without TTL", leaseKey, func() error { return c.Set(ctx, leaseKey, "mine", 0).Err() }},
		{"list at lease", leaseKey, func() error { return c.RPush(ctx, leaseKey, "x").Err() }},
		{"foreign hash at lease", leaseKey, func() error { return c.HSet(ctx, leaseKey, "user", "x").Err() }},
		{"baton-shaped hash without TTL", leaseKey, func() error {
			return c.HSet(ctx, leaseKey, "owner", "t", "holder", "h", "fence", "1").Err()
		}},
		{"text at fence", fenceKey, func() error { return c.Set(ctx, fenceKey, "hello", 0).Err() }},
		{"float at fence", fenceKey, func() error { return c.Set(ctx, fenceKey, "1e5", 0).Err() }},
		{"set at fence", fenceKey, func() error { return c.SAdd(ctx, fenceKey, "x").Err() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.Del(ctx, leaseKey, fenceKey)
			if err := tc.setup(); err != nil {
				t.Fatal(err)
			}
			before := c.Dump(ctx, tc.key).Val()
			beforeTTL := c.PTTL(ctx, tc.key).Val()

			_, err := l.TryAcquire(ctx, "a", time.Second)
			var fe *lockcore.ForeignError
			if !errors.As(err, &fe) || !errors.Is(err, lockcore.ErrForeign) || fe.Key != tc.key {
				t.Fatalf("TryAcquire: err = %v, want ForeignError at %s", err, tc.key)
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = l.Acquire(wctx, "a", time.Second, nil)
			cancel()
			if !errors.Is(err, lockcore.ErrForeign) {
				t.Fatalf("Acquire: err = %v, want ErrForeign at once", err)
			}
			if after := c.Dump(ctx, tc.key).Val(); after != before {
				t.Errorf("value at %s changed", tc.key)
			}
			if afterTTL := c.PTTL(ctx, tc.key).Val(); (afterTTL < 0) != (beforeTTL < 0) {
				t.Errorf("TTL at %s changed from %v to %v", tc.key, beforeTTL, afterTTL)
			}
		})
	}

	// The scripts read a key and learn its type from the read's error
	// (read.lua): a string and a hash without baton's fields take
	// different ways there.
	for _, foreign := range []struct {
		name  string
		write func() error
	}{
		{"string", func() error { return c.Set(ctx, leaseKey, "someone else's", 0).Err() }},
		{"hash", func() error { return c.HSet(ctx, leaseKey, "user", "someone else's").Err() }},
	} {
		t.Run("renew and release of a lease replaced by a foreign "+foreign.name, func(t *testing.T) {
			// A fresh Lock, on a name whose last term was not released:
			// l has seen fences above the emptied counter.
			c.Del(ctx, leaseKey, fenceKey, l.TermKey())
			redistest.KnownStore(t, c, l.TermKey())
			s, err := newLock(t, c, "job").TryAcquire(ctx, "a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			c.Del(ctx, leaseKey)
			if err := foreign.write(); err != nil {
				t.Fatal(err)
			}
			before := c.Dump(ctx, leaseKey).Val()
			if err := s.Renew(ctx); !errors.Is(err, lockcore.ErrForeign) {
				t.Errorf("Renew: err = %v, want ErrForeign", err)
			}
			if err := s.Release(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
				t.Errorf("Release: err = %v, want ErrNotHeld", err)
			}
			if after := c.Dump(ctx, leaseKey).Val(); after != before {
				t.Error("foreign value changed")
			}
		})
	}
}

func TestFenceGrowsAcrossDataLoss(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	l := newLock(t, c, "job")
	redistest.KnownStore(t, c, l.TermKey())

	var last uint64
	take := func(step string) {
		t.Helper()
		s, err := l.TryAcquire(ctx, "a", time.Minute)
		if err != nil {
			t.Fatalf("%s: TryAcquire: %v", step, err)
		}
		if s.Fence() <= last {
			t.Fatalf("%s: fence %d is not above %d", step, s.Fence(), last)
		}
		last = s.Fence()
		if err := s.Release(ctx); err != nil {
			t.Fatalf("%s: Release: %v", step, err)
		}
	}
	take("first")
	take("second")
	_, fenceKey, _ := l.Keys()
	// A counter far ahead of the clock must still be honoured.
	ahead := last + 1_000_000_000
	c.Set(ctx, fenceKey, ahead, 0)
	take("counter ahead of clock")
	if last != ahead+1 {
		t.Errorf("fence = %d, want counter+1 = %d", last, ahead+1)
	}
	c.FlushAll(ctx)
	// A fresh Lock, as in a process that never saw a fence: l itself would
	// be held off by the data-loss quarantine (TestDataLossQuarantine).
	// The store is unknown now, and its first term waits a TTL (see
	// TestUnknownStoreWaitsOneTTL); a known one, as a release leaves it
	// with fence 1, shows that the clock alone keeps fences growing.
	l = newLock(t, c, "job")
	redistest.KnownStore(t, c, l.TermKey())
	last = ahead - 1_000_000_000 // the clock-based floor is all that survives FLUSHALL
	take("after FLUSHALL")
	srv.Restart()
	l = newLock(t, c, "job")
	redistest.KnownStore(t, c, l.TermKey())
	take("after restart without persistence")
}

// Regression: after FLUSHALL or a restart without persistence, a waiter
// took the lease at once while the last holder still believed in its term
// (up to its renew deadline): the chaos suite saw overlaps of ~100ms. A
// candidate that has seen a fence above the counter now starts a quarantine
// of one TTL, during which nobody leads.
func TestDataLossQuarantine(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	c := srv.Client()
	for _, loss := range []struct {
		name string
		do   func()
	}{
		{"FLUSHALL", func() { c.FlushAll(ctx) }},
		{"restart without persistence", srv.Restart},
	} {
		t.Run(loss.name, func(t *testing.T) {
			const ttl = 500 * time.Millisecond
			holder, waiter := newLock(t, c, "job"), newLock(t, c, "job")
			redistest.KnownStore(t, c, holder.TermKey())
			s, err := holder.TryAcquire(ctx, "a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := waiter.TryAcquire(ctx, "b", ttl); !errors.Is(err, lockcore.ErrHeld) {
				t.Fatalf("waiter: %v, want held", err)
			}
			loss.do()
			start := time.Now()
			_, err = waiter.TryAcquire(ctx, "b", ttl)
			var held *lockcore.HeldError
			if !errors.As(err, &held) || held.Holder.Identity != "" || held.Holder.Fence < s.Fence() {
				t.Fatalf("waiter after the loss: %v, want a quarantine held by \"\" at fence >= %d", err, s.Fence())
			}
			// Even a process that saw nothing must wait the quarantine out.
			if _, err := newLock(t, c, "job").TryAcquire(ctx, "c", ttl); !errors.Is(err, lockcore.ErrHeld) {
				t.Fatalf("fresh candidate during the quarantine: %v, want held", err)
			}
			next, err := waiter.Acquire(ctx, "b", ttl, nil)
			if err != nil {
				t.Fatal(err)
			}
			if waited := time.Since(start); waited < ttl-50*time.Millisecond {
				t.Errorf("acquired %v after the loss, want at least the TTL %v", waited, ttl)
			}
			if next.Fence() <= held.Holder.Fence {
				t.Errorf("fence %d after the quarantine, want above %d", next.Fence(), held.Holder.Fence)
			}
			_ = next.Release(ctx)
		})
	}
}

func TestTryLock(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l, err := lockcore.New(c, "mutex", lockcore.Options{WatchdogTimeout: 600 * time.Millisecond, Identity: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := locks.MutexOf(l, false).TryLock(ctx, 0, 0)
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	if _, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Second); !errors.Is(err, lockcore.ErrTimeout) || !errors.Is(err, lockcore.ErrHeld) {
		t.Errorf("TryLock without wait: err = %v, want ErrTimeout and ErrHeld", err)
	}
	if _, err := locks.MutexOf(l, false).TryLock(ctx, 50*time.Millisecond, time.Second); !errors.Is(err, lockcore.ErrTimeout) {
		t.Errorf("TryLock with wait: err = %v, want ErrTimeout", err)
	}
	// Three watchdog TTLs later the lock must still be held: only renewals
	// can have kept it.
	select {
	case <-m.Lost():
		t.Fatalf("lost: %v", m.Err())
	case <-time.After(1800 * time.Millisecond):
	}
	leaseKey, _, _ := l.Keys()
	if got := c.HGet(ctx, leaseKey, "fence").Val(); got == "" {
		t.Fatal("watchdog did not keep the lease")
	}

	waiter := make(chan error, 1)
	go func() {
		m2, err := locks.MutexOf(l, false).TryLock(ctx, 20*time.Second, 5*time.Second)
		if err == nil {
			if m2.Fence() <= m.Fence() {
				err = errors.New("fence did not grow")
			} else {
				err = m2.Release(ctx)
			}
		}
		waiter <- err
	}()
	if err := m.Release(ctx); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := <-waiter; err != nil {
		t.Fatalf("second TryLock: %v", err)
	}

	t.Run("watchdog reports a lost lease", func(t *testing.T) {
		m, err := locks.MutexOf(l, false).TryLock(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		c.Del(ctx, leaseKey)
		select {
		case <-m.Lost():
		case <-time.After(10 * time.Second):
			t.Fatal("watchdog did not notice the deleted lease")
		}
		// A renew that finds the key gone says ErrLost; one that a busy
		// machine slows past the validity can only say it is unsure.
		if err := m.Err(); !errors.Is(err, lockcore.ErrLost) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err = %v, want ErrLost (or, on a busy machine, a renew past the validity)", err)
		}
		if err := m.Release(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
			t.Errorf("Unlock: err = %v, want ErrNotHeld", err)
		}
	})
}

func TestACLUser(t *testing.T) {
	srv := redistest.Start(t,
		"user default off",
		"user baton on >s3cret ~baton:* &baton:* +@all",
		"user nopub on >s3cret ~baton:* &baton:* +@all -publish",
	)
	t.Run("baton", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "baton", Password: "s3cret"})
		t.Cleanup(func() { _ = c.Close() })
		l := newLock(t, c, "acl-baton")
		redistest.KnownStore(t, c, l.TermKey())
		s, err := l.TryAcquire(t.Context(), "a", time.Minute)
		if err != nil {
			t.Fatalf("TryAcquire: %v", err)
		}
		if err := s.Release(t.Context()); err != nil {
			t.Errorf("Release: %v", err)
		}
	})
	// Regression: a user without PUBLISH used to take the lease, and its
	// release then failed inside the script after the DEL (Redis does not
	// roll back a script's earlier writes), so waiters were never told.
	t.Run("nopub never takes the lease", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "nopub", Password: "s3cret"})
		t.Cleanup(func() { _ = c.Close() })
		l := newLock(t, c, "acl-nopub")
		_, err := l.TryAcquire(t.Context(), "a", time.Minute)
		var denied *lockcore.DeniedError
		if !errors.As(err, &denied) || !errors.Is(err, lockcore.ErrDenied) || denied.Command != "PUBLISH" {
			t.Fatalf("TryAcquire: err = %v, want DeniedError for PUBLISH", err)
		}
		lease, fence, _ := l.Keys()
		if n := srv.Client().Exists(t.Context(), lease, fence).Val(); n != 0 {
			t.Errorf("%d lock keys written by a denied acquire, want 0", n)
		}
	})
	t.Run("PUBLISH revoked during the term leaves the lease intact", func(t *testing.T) {
		admin := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "baton", Password: "s3cret"})
		t.Cleanup(func() { _ = admin.Close() })
		if err := admin.Do(t.Context(), "ACL", "SETUSER", "revoked", "on", ">s3cret", "~baton:*", "&baton:*", "+@all").Err(); err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "revoked", Password: "s3cret"})
		t.Cleanup(func() { _ = c.Close() })
		l := newLock(t, c, "acl-revoked")
		redistest.KnownStore(t, c, l.TermKey())
		s, err := l.TryAcquire(t.Context(), "a", time.Minute)
		if err != nil {
			t.Fatalf("TryAcquire: %v", err)
		}
		if err := admin.Do(t.Context(), "ACL", "SETUSER", "revoked", "-publish").Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(t.Context()); err == nil {
			t.Fatal("Release without PUBLISH succeeded, want an error")
		}
		lease, _, _ := l.Keys()
		if got := admin.HGet(t.Context(), lease, "owner").Val(); got != s.Token() {
			t.Errorf("lease owner after the failed release = %q, want the lease left intact", got)
		}
	})
}

func TestNewValidates(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	long := make([]byte, lockcore.MaxNameLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name string
		lock string
		opts lockcore.Options
	}{
		{"empty name", "", lockcore.Options{}},
		{"brace", "a{b}", lockcore.Options{}},
		{"space", "a b", lockcore.Options{}},
		{"too long", string(long), lockcore.Options{}},
		{"bad prefix", "ok", lockcore.Options{Prefix: "x:y"}},
		{"tiny watchdog", "ok", lockcore.Options{WatchdogTimeout: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := lockcore.New(c, tc.lock, tc.opts); !errors.Is(err, lockcore.ErrInvalid) {
				t.Errorf("New: err = %v, want ErrInvalid", err)
			}
		})
	}
	l := newLock(t, c, "ok")
	for _, ttl := range []time.Duration{0, -time.Second, 1500 * time.Microsecond} {
		if _, err := l.TryAcquire(t.Context(), "a", ttl); !errors.Is(err, lockcore.ErrInvalid) {
			t.Errorf("TryAcquire ttl %v: err = %v, want ErrInvalid", ttl, err)
		}
	}
}
