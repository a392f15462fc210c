//go:build unix

package locks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

// keysLeft lists the keys in Redis.
func keysLeft(t *testing.T, c *redis.Client) []string {
	t.Helper()
	keys, err := c.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Regression (issue 17, item 8): every application lock and semaphore name
// left its fence counter and term record behind for ever. Now a name that
// nobody holds leaves no key once its last lease could have expired, plus
// KeyGrace; the election's keys (TryAcquire) keep having no TTL.
func TestApplicationKeysExpire(t *testing.T) {
	const grace = 300 * time.Millisecond
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	opts := lockcore.Options{KeyGrace: grace, WatchdogTimeout: 600 * time.Millisecond}
	gone := func(t *testing.T, since time.Time, bound time.Duration) {
		t.Helper()
		eventually(t, bound+5*time.Second, "no key left", func() bool { return len(keysLeft(t, c)) == 0 })
		if took := time.Since(since); took > bound+500*time.Millisecond {
			t.Errorf("keys gone %v after, want within %v", took, bound)
		}
	}
	for _, tc := range []struct {
		name string
		take func(l *lockcore.Lock) (*locks.Held, error)
	}{
		{"TryLock", func(l *lockcore.Lock) (*locks.Held, error) {
			return locks.MutexOf(l, false).TryLock(ctx, 0, 0)
		}},
		{"TryLockFair", func(l *lockcore.Lock) (*locks.Held, error) {
			return locks.MutexOf(l, true).TryLock(ctx, 0, 0)
		}},
	} {
		t.Run(tc.name+" released", func(t *testing.T) {
			l, err := lockcore.New(c, "order-1", opts)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tc.take(l)
			if err != nil {
				t.Fatal(err)
			}
			// Renewals past the grace keep the keys while the lock is held.
			time.Sleep(2 * opts.WatchdogTimeout)
			_, fenceKey, _ := l.Keys()
			for _, key := range []string{fenceKey, l.TermKey()} {
				if pttl := c.PTTL(ctx, key).Val(); pttl < opts.WatchdogTimeout/3 {
					t.Errorf("%s: PTTL %v while held, want at least the lease's", key, pttl)
				}
			}
			if err := m.Release(ctx); err != nil {
				t.Fatal(err)
			}
			gone(t, time.Now(), grace)
		})
	}
	t.Run("lease time, never released", func(t *testing.T) {
		l, err := lockcore.New(c, "order-2", opts)
		if err != nil {
			t.Fatal(err)
		}
		const lease = 400 * time.Millisecond
		start := time.Now()
		if _, err := locks.MutexOf(l, false).TryLock(ctx, 0, lease); err != nil {
			t.Fatal(err)
		}
		gone(t, start, lease+grace)
	})
	t.Run("semaphore", func(t *testing.T) {
		for _, fair := range []bool{false, true} {
			s := newSemaphore(t, c, "pool", 2, lockcore.SemaphoreOptions{Options: opts, Fair: fair})
			a, err := s.TryLock(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.TryLock(ctx, 0, 400*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * opts.WatchdogTimeout)
			if n := len(keysLeft(t, c)); n < 4 {
				t.Errorf("fair %v: %d keys while a permit is held, want 4", fair, n)
			}
			// The other permit has expired by now: the keys go KeyGrace
			// after the release.
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			gone(t, time.Now(), grace)
		}
	})
	t.Run("the election's keys never expire", func(t *testing.T) {
		l, err := lockcore.New(c, "job", opts)
		if err != nil {
			t.Fatal(err)
		}
		redistest.KnownStore(t, c, l.TermKey())
		s, err := l.TryAcquire(ctx, "a", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Renew(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx); err != nil {
			t.Fatal(err)
		}
		_, fenceKey, _ := l.Keys()
		for _, key := range []string{fenceKey, l.TermKey()} {
			if pttl := c.PTTL(ctx, key).Val(); pttl != -1 {
				t.Errorf("%s: PTTL %v, want none (-1)", key, pttl)
			}
		}
		c.FlushAll(ctx)
	})
	t.Run("a foreign counter keeps no TTL", func(t *testing.T) {
		l, err := lockcore.New(c, "order-3", opts)
		if err != nil {
			t.Fatal(err)
		}
		_, fenceKey, _ := l.Keys()
		c.Set(ctx, fenceKey, "hello", 0)
		if _, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Second); !errors.Is(err, lockcore.ErrForeign) {
			t.Fatalf("TryLock: %v, want ErrForeign", err)
		}
		if pttl := c.PTTL(ctx, fenceKey).Val(); pttl != -1 {
			t.Errorf("foreign counter: PTTL %v, want none (-1)", pttl)
		}
		c.FlushAll(ctx)
	})
}

// Regression (issue 17, item 6): after FLUSHALL, a candidate that had never
// seen a fence took the lease at once, while the leader still believed in
// its term. A store with neither counter nor term record is unknown under
// the election's rules: its first candidate waits one TTL, whoever it is.
func TestUnknownStoreWaitsOneTTL(t *testing.T) {
	const ttl = 600 * time.Millisecond
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()

	t.Run("brand-new lock", func(t *testing.T) {
		start := time.Now()
		l := newLock(t, c, "fresh")
		s, err := l.Acquire(ctx, "a", ttl, nil)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < ttl || took > ttl+time.Second {
			t.Errorf("first term after %v, want within [%v, %v]", took, ttl, ttl+time.Second)
		}
		_, fenceKey, _ := l.Keys()
		for _, key := range []string{fenceKey, l.TermKey()} {
			if pttl := c.PTTL(ctx, key).Val(); pttl != -1 {
				t.Errorf("%s: PTTL %v, want none: the election's keys never expire", key, pttl)
			}
		}
		_ = s.Release(ctx)
	})

	t.Run("FLUSHALL under a leader, then a brand-new candidate", func(t *testing.T) {
		a := newLock(t, c, "job")
		redistest.KnownStore(t, c, a.TermKey())
		held, err := a.TryAcquire(ctx, "a", ttl)
		if err != nil {
			t.Fatal(err)
		}
		validUntil := held.SentAt().Add(ttl) // as long as a believes in its term
		c.FlushAll(ctx)
		flushed := time.Now()
		b := newLock(t, c, "job") // never saw a fence
		var quarantined bool
		s, err := b.Acquire(ctx, "b", ttl, func(h lockcore.Holder) { quarantined = quarantined || h.Identity == "" })
		if err != nil {
			t.Fatal(err)
		}
		got := time.Now()
		if got.Before(validUntil) {
			t.Errorf("b led %v before a's term could end", validUntil.Sub(got))
		}
		if took := got.Sub(flushed); took > ttl+time.Second {
			t.Errorf("b led %v after the flush, want within %v", took, ttl+time.Second)
		}
		if !quarantined {
			t.Error("b never saw the quarantine")
		}
		if s.Fence() <= held.Fence() {
			t.Errorf("fence %d after the loss, want above %d", s.Fence(), held.Fence())
		}
		if err := held.Renew(ctx); !errors.Is(err, lockcore.ErrLost) {
			t.Errorf("a's renew: %v, want ErrLost", err)
		}
	})

	t.Run("application locks do not wait", func(t *testing.T) {
		c.FlushAll(ctx)
		l := newLock(t, c, "order-1")
		if _, err := locks.MutexOf(l, false).TryLock(ctx, 0, ttl); err != nil {
			t.Fatalf("TryLock on a fresh name: %v, want it at once", err)
		}
	})
}

// Regression (issue 17, item 7): a Lock remembers the fences and lease ends
// it issued. After FLUSHALL, it grants the name again only once the lease
// it issued could have ended, not after the new request's TTL; and a name
// whose keys merely expired is granted at once.
func TestLockRemembersItsLeasesAcrossDataLoss(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l, err := lockcore.New(c, "x", lockcore.Options{KeyGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const lease = 1500 * time.Millisecond
	first, err := locks.MutexOf(l, false).TryLock(ctx, 0, lease)
	if err != nil {
		t.Fatal(err)
	}
	end := first.SentAt().Add(lease)
	c.FlushAll(ctx)
	_, err = locks.MutexOf(l, false).TryLock(ctx, 0, 100*time.Millisecond)
	var held *lockcore.HeldError
	if !errors.As(err, &held) || held.Holder.Identity != "" {
		t.Fatalf("TryLock after FLUSHALL: %v, want a quarantine", err)
	}
	if left := time.Until(end); held.Holder.Remaining < left-100*time.Millisecond {
		t.Errorf("quarantine for %v, want until the first lease's end, %v from now", held.Holder.Remaining, left)
	}
	second, err := locks.MutexOf(l, false).TryLock(ctx, 5*time.Second, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); now.Before(end) {
		t.Errorf("granted again %v before the first lease's end", end.Sub(now))
	}
	if second.Fence() <= first.Fence() {
		t.Errorf("fence %d, want above %d", second.Fence(), first.Fence())
	}
	// Its lease runs out and its keys expire: the name is free at once.
	eventually(t, 5*time.Second, "keys expired", func() bool { return len(keysLeft(t, c)) == 0 })
	if _, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Second); err != nil {
		t.Errorf("TryLock after the keys expired: %v, want it at once", err)
	}
}

// Regression (issue 17, item 10): a semaphore's number of permits was
// stored nowhere, so a permits=1 holder and a permits=3 user both got a
// permit. The first user's number is recorded; another one is refused,
// with both numbers, and nothing is written.
func TestSemaphorePermitCountIsRecorded(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	one := newSemaphore(t, c, "pool", 1, lockcore.SemaphoreOptions{})
	p, err := one.TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, locks.SemCore(one).CountKey()).Val(); got != "1" {
		t.Errorf("recorded %q, want 1", got)
	}
	before := map[string]string{}
	for _, k := range keysLeft(t, c) {
		before[k] = c.Dump(ctx, k).Val()
	}
	for _, fair := range []bool{false, true} {
		three := newSemaphore(t, c, "pool", 3, lockcore.SemaphoreOptions{Fair: fair})
		for _, wait := range []time.Duration{0, 200 * time.Millisecond} {
			_, err = three.TryLock(ctx, wait, time.Minute)
			var pe *lockcore.PermitsError
			if !errors.As(err, &pe) || !errors.Is(err, lockcore.ErrPermits) || pe.Recorded != 1 || pe.Asked != 3 ||
				!strings.Contains(err.Error(), "1") || !strings.Contains(err.Error(), "3") {
				t.Fatalf("permits=3 (fair %v, wait %v): %v, want a PermitsError naming 1 and 3", fair, wait, err)
			}
		}
	}
	after := keysLeft(t, c)
	if len(after) != len(before) {
		t.Errorf("keys %v after the refusals, want %d", after, len(before))
	}
	for k, v := range before {
		if c.Dump(ctx, k).Val() != v {
			t.Errorf("%s changed by a refused acquire", k)
		}
	}
	if err := p.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// The same number is served as before.
	if _, err := one.TryLock(context.WithoutCancel(ctx), 0, time.Minute); err != nil {
		t.Errorf("permits=1 again: %v", err)
	}
}
