//go:build unix

package locks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

func newSemaphore(t *testing.T, c lockcore.Client, name string, permits int, opts lockcore.SemaphoreOptions) *locks.Semaphore {
	t.Helper()
	s, err := locks.NewSemaphoreCore(c, name, permits, opts)
	if err != nil {
		t.Fatalf("NewSemaphore: %v", err)
	}
	return s
}

func TestSemaphoreBasics(t *testing.T) {
	for _, fair := range []bool{false, true} {
		t.Run(map[bool]string{false: "unfair", true: "fair"}[fair], func(t *testing.T) {
			srv := redistest.Start(t)
			c := srv.Client()
			ctx := t.Context()
			s := newSemaphore(t, c, "pool", 2, lockcore.SemaphoreOptions{Fair: fair, Options: lockcore.Options{Identity: "w"}})
			a, err := s.TryLock(ctx, 0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.TryLock(ctx, 0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if b.Fence() <= a.Fence() {
				t.Errorf("fences %d then %d, want growing", a.Fence(), b.Fence())
			}
			_, err = s.TryLock(ctx, 0, time.Minute)
			var held *lockcore.HeldError
			if !errors.Is(err, lockcore.ErrTimeout) || !errors.As(err, &held) || held.Holder.Identity != "w" {
				t.Fatalf("third TryAcquire: %v, want ErrTimeout with a HeldError", err)
			}
			_, err = s.TryLock(ctx, 300*time.Millisecond, time.Minute)
			if !errors.Is(err, lockcore.ErrTimeout) || !errors.Is(err, lockcore.ErrHeld) {
				t.Fatalf("TryAcquire with a wait: %v, want ErrTimeout and ErrHeld", err)
			}
			info, err := s.Inspect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Permits != 2 || len(info.Holders) != 2 || info.Queue != 0 {
				t.Errorf("Inspect = %+v, want 2 holders and no queue", info)
			}
			if err := a.Renew(ctx); err != nil {
				t.Errorf("Renew: %v", err)
			}
			waiter := make(chan error, 1)
			go func() {
				p, err := s.TryLock(ctx, 20*time.Second, time.Minute)
				if err == nil {
					if p.Fence() <= b.Fence() {
						err = errors.New("fence did not grow")
					} else {
						err = p.Release(ctx)
					}
				}
				waiter <- err
			}()
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-waiter; err != nil {
				t.Fatalf("waiter: %v", err)
			}
			if err := a.Release(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
				t.Errorf("second Release: %v, want ErrNotHeld", err)
			}
			if err := a.Renew(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
				t.Errorf("Renew after Release: %v, want ErrNotHeld", err)
			}
			if err := b.Release(ctx); err != nil {
				t.Errorf("Release b: %v", err)
			}
		})
	}
}

// TestSemaphoreNeverExceedsPermits runs many holders at once; the number
// that believe they hold a permit (counted after acquire returns and before
// release is sent) must never exceed the permits.
func TestSemaphoreNeverExceedsPermits(t *testing.T) {
	for _, fair := range []bool{false, true} {
		t.Run(map[bool]string{false: "unfair", true: "fair"}[fair], func(t *testing.T) {
			srv := redistest.Start(t)
			c := srv.Client()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			const permits, workers, rounds = 3, 12, 8
			s := newSemaphore(t, c, "pool", permits, lockcore.SemaphoreOptions{Fair: fair})
			var (
				mu      sync.Mutex
				cur     int
				most    int
				fences  = map[uint64]bool{}
				overrun int
			)
			errs := make(chan error, workers)
			for range workers {
				go func() {
					for range rounds {
						p, err := s.TryLock(ctx, -1, 10*time.Second)
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						cur++
						most = max(most, cur)
						if cur > permits {
							overrun++
						}
						if fences[p.Fence()] {
							overrun++
						}
						fences[p.Fence()] = true
						mu.Unlock()
						// Hold it for a round trip to Redis.
						info, err := s.Inspect(ctx)
						if err == nil && len(info.Holders) > permits {
							err = fmt.Errorf("Inspect shows %d holders of %d permits", len(info.Holders), permits)
						}
						mu.Lock()
						cur--
						mu.Unlock()
						if err == nil {
							err = p.Release(ctx)
						}
						if err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range workers {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("FIGURE semaphore %s: %d workers x %d rounds on %d permits: at most %d held at once, %d overruns", map[bool]string{false: "unfair", true: "fair"}[fair], workers, rounds, permits, most, overrun)
			if overrun != 0 || most > permits {
				t.Errorf("%d overruns (most %d held at once of %d)", overrun, most, permits)
			}
			if len(fences) != workers*rounds {
				t.Errorf("%d distinct fences for %d permits taken", len(fences), workers*rounds)
			}
			permitsKey, holdersKey, _, queueKey, _, _, _ := locks.SemCore(s).Keys()
			if n := c.Exists(ctx, permitsKey, holdersKey, queueKey).Val(); n != 0 {
				t.Errorf("%d semaphore keys left after every release", n)
			}
		})
	}
}

// A holder that never comes back (no renew, no release) loses its permit
// when its lease ends in Redis time; a waiter then takes it, not before.
func TestSemaphoreCrashedHolder(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	s := newSemaphore(t, c, "pool", 1, lockcore.SemaphoreOptions{})
	const lease = 300 * time.Millisecond
	crashed, err := s.TryLock(ctx, 0, lease)
	if err != nil {
		t.Fatal(err)
	}
	start, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.TryLock(ctx, 20*time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if waited := got.Sub(start); waited < lease-20*time.Millisecond {
		t.Errorf("permit taken over %v after the first acquire, before its lease %v", waited, lease)
	}
	if next.Fence() <= crashed.Fence() {
		t.Errorf("fence %d after %d", next.Fence(), crashed.Fence())
	}
	if err := crashed.Renew(ctx); !errors.Is(err, lockcore.ErrLost) {
		t.Errorf("Renew of the expired permit: %v, want ErrLost", err)
	}
	select {
	case <-crashed.Lost():
	default:
		t.Error("Lost not closed after Renew found the permit lost")
	}
	if err := crashed.Release(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
		t.Errorf("Release of the expired permit: %v, want ErrNotHeld", err)
	}
	info, err := s.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Holders) != 1 || info.Holders[0].Fence != next.Fence() {
		t.Errorf("holders %+v, want only the new one: the old release touched nothing", info.Holders)
	}
}

func TestSemaphoreWatchdog(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	s := newSemaphore(t, c, "pool", 2, lockcore.SemaphoreOptions{Options: lockcore.Options{WatchdogTimeout: 600 * time.Millisecond}})
	p, err := s.TryLock(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.TTL() != 600*time.Millisecond {
		t.Errorf("TTL %v, want the watchdog timeout", p.TTL())
	}
	// Three TTLs later the permit must still be held: only renewals can
	// have kept it. The wait is the condition, not a race.
	select {
	case <-p.Lost():
		t.Fatalf("lost: %v", p.Err())
	case <-time.After(1800 * time.Millisecond):
	}
	info, err := s.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Holders) != 1 || info.Holders[0].Fence != p.Fence() {
		t.Fatalf("holders %+v, want the watched permit", info.Holders)
	}
	permitsKey, _, _, _, _, _, _ := locks.SemCore(s).Keys()
	c.ZRem(ctx, permitsKey, p.Token())
	select {
	case <-p.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("watchdog did not notice the removed permit")
	}
	if !errors.Is(p.Err(), lockcore.ErrLost) {
		t.Errorf("Err = %v, want ErrLost", p.Err())
	}
}

func TestSemaphoreForeignValues(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	s := newSemaphore(t, c, "pool", 2, lockcore.SemaphoreOptions{Fair: true})
	permitsKey, holdersKey, fenceKey, queueKey, deadlinesKey, _, _ := locks.SemCore(s).Keys()
	for _, tc := range []struct {
		name, key string
		setup     func() error
	}{
		{"string at permits", permitsKey, func() error { return c.Set(ctx, permitsKey, "mine", 0).Err() }},
		{"list at holders", holdersKey, func() error { return c.RPush(ctx, holdersKey, "x").Err() }},
		{"text at fence", fenceKey, func() error { return c.Set(ctx, fenceKey, "hello", 0).Err() }},
		{"fence past 2^53", fenceKey, func() error { return c.Set(ctx, fenceKey, "9007199254740993", 0).Err() }},
		{"hash at queue", queueKey, func() error { return c.HSet(ctx, queueKey, "a", "b").Err() }},
		{"string at deadlines", deadlinesKey, func() error { return c.Set(ctx, deadlinesKey, "x", 0).Err() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Del(ctx, permitsKey, holdersKey, fenceKey, queueKey, deadlinesKey)
			if err := tc.setup(); err != nil {
				t.Fatal(err)
			}
			before := c.Dump(ctx, tc.key).Val()
			_, err := s.TryLock(ctx, time.Second, time.Minute)
			var fe *lockcore.ForeignError
			if !errors.As(err, &fe) || fe.Key != tc.key {
				t.Fatalf("TryAcquire: %v, want ForeignError at %s", err, tc.key)
			}
			if tc.key != fenceKey {
				if _, err := s.Inspect(ctx); !errors.Is(err, lockcore.ErrForeign) {
					t.Errorf("Inspect: %v, want ErrForeign", err)
				}
			}
			if after := c.Dump(ctx, tc.key).Val(); after != before {
				t.Errorf("value at %s changed", tc.key)
			}
			if n := c.DBSize(ctx).Val(); n != 1 {
				t.Errorf("%d keys, want only the foreign one", n)
			}
		})
	}
}

func TestSemaphoreValidates(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		permits int
		opts    lockcore.SemaphoreOptions
	}{
		{"0 permits", 0, lockcore.SemaphoreOptions{}},
		{"negative permits", -1, lockcore.SemaphoreOptions{}},
		{"too many permits", lockcore.MaxPermits + 1, lockcore.SemaphoreOptions{}},
		{"bad prefix", 1, lockcore.SemaphoreOptions{Options: lockcore.Options{Prefix: "a:b"}}},
		{"bad heartbeat", 1, lockcore.SemaphoreOptions{Options: lockcore.Options{QueueHeartbeat: time.Millisecond}}},
		{"min replicas", 1, lockcore.SemaphoreOptions{Options: lockcore.Options{MinReplicas: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := locks.NewSemaphoreCore(c, "pool", tc.permits, tc.opts); !errors.Is(err, lockcore.ErrInvalid) {
				t.Errorf("NewSemaphore: %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := locks.NewSemaphoreCore(c, "a{b}", 1, lockcore.SemaphoreOptions{}); !errors.Is(err, lockcore.ErrInvalid) {
		t.Errorf("NewSemaphore with a brace: %v, want ErrInvalid", err)
	}
	s := newSemaphore(t, c, "pool", 1, lockcore.SemaphoreOptions{})
	calls := callsDuring(t, c, func() {
		for _, lease := range []time.Duration{-time.Second, 1500 * time.Microsecond} {
			if _, err := s.TryLock(ctx, time.Second, lease); !errors.Is(err, lockcore.ErrInvalid) {
				t.Errorf("TryAcquire lease %v: %v, want ErrInvalid", lease, err)
			}
		}
	})
	if calls["evalsha"] != 0 || calls["eval"] != 0 {
		t.Errorf("bad input ran a script")
	}
	if n := c.DBSize(ctx).Val(); n != 0 {
		t.Errorf("%d keys written by bad input", n)
	}
}

// In fair mode with one permit the semaphore serves its waiters in
// arrival order, like TryLockFair, and a release wakes only the head.
func TestSemaphoreFairOrder(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := newSemaphore(t, c, "pool", 1, lockcore.SemaphoreOptions{Fair: true})
	first, err := s.TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	queueLen := func() int {
		info, err := s.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Queue
	}
	const waiters = 15
	var (
		mu    sync.Mutex
		order []int
	)
	errs := make(chan error, waiters)
	for i := range waiters {
		go func() {
			p, err := s.TryLock(ctx, -1, time.Minute)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			errs <- p.Release(ctx)
		}()
		eventually(t, 20*time.Second, fmt.Sprintf("waiter %d queued", i), func() bool { return queueLen() == i+1 })
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
	violations := outOfOrder(order)
	if violations != 0 {
		t.Errorf("order %v: %d violations", order, violations)
	}
	if got := calls["publish"]; got != waiters+1 {
		t.Errorf("%d PUBLISH for %d releases, want one each", got, waiters+1)
	}
}

var _ = redis.Nil
