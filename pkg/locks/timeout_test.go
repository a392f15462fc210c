//go:build unix

package locks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/test/chaos"
)

// hangLimit is how long a test waits for a call that must return; a call
// that hangs for ever fails the test after it.
const hangLimit = 20 * time.Second

// proxied starts Redis behind a fault proxy and returns a client through
// it (without retries, so each call is one request) and one straight to
// Redis.
func proxied(t *testing.T, opts redis.Options) (p *chaos.Proxy, viaProxy, direct *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	p, err := chaos.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	opts.Addr = p.Addr()
	opts.MaxRetries = -1
	viaProxy = redis.NewClient(&opts)
	t.Cleanup(func() { _ = viaProxy.Close() })
	return p, viaProxy, srv.Client()
}

// loadScripts takes and releases a lock once, so that Redis knows the
// scripts and a stalled EVALSHA really runs one (rather than answering
// NOSCRIPT).
func loadScripts(t *testing.T, c *redis.Client) {
	t.Helper()
	l := newLock(t, c, "warm-up")
	redistest.KnownStore(t, c, l.TermKey())
	s, err := l.TryAcquire(t.Context(), "warm-up", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// within runs f and fails the test if it has not returned within hangLimit.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		t.Fatalf("%s still blocked after %v", what, hangLimit)
		return nil
	}
}

// Regression: Watch waited for the subscribe confirmation on a context
// that may have no deadline; a connection that went silent after SUBSCRIBE
// blocked it, and Acquire, for ever.
func TestSubscribeOnASilentConnection(t *testing.T) {
	t.Run("bounded by SubscribeTimeout", func(t *testing.T) {
		p, c, _ := proxied(t, redis.Options{})
		l, err := lockcore.New(c, "job", lockcore.Options{SubscribeTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		p.Arm("subscribe", chaos.Stall)
		err = within(t, "Watch", func() error {
			w, err := l.Watch(context.Background())
			if err == nil {
				_ = w.Close()
			}
			return err
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Watch: %v, want a subscribe timeout", err)
		}
	})
	t.Run("interrupted by cancel", func(t *testing.T) {
		p, c, direct := proxied(t, redis.Options{})
		l, err := lockcore.New(c, "job", lockcore.Options{SubscribeTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		holder := newLock(t, direct, "job")
		redistest.KnownStore(t, direct, holder.TermKey())
		if _, err := holder.TryAcquire(t.Context(), "holder", time.Hour); err != nil {
			t.Fatal(err)
		}
		stalled := p.Arm("subscribe", chaos.Stall)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-stalled
			cancel()
		}()
		err = within(t, "Acquire", func() error {
			_, err := l.Acquire(ctx, "b", time.Hour, nil)
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire: %v, want context.Canceled", err)
		}
	})
}

// Regression: a try inside Acquire had no bound of its own; on a client
// without read timeout, one stalled pooled connection held Acquire (with a
// context without deadline) for ever.
func TestAttemptTimeoutBoundsAStalledCall(t *testing.T) {
	p, c, direct := proxied(t, redis.Options{ReadTimeout: -1})
	l, err := lockcore.New(c, "job", lockcore.Options{AttemptTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	loadScripts(t, direct)
	redistest.KnownStore(t, direct, l.TermKey())
	p.Arm("evalsha", chaos.Stall)
	err = within(t, "Acquire", func() error {
		_, err := l.Acquire(context.Background(), "a", time.Hour, nil)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire: %v, want the attempt timeout", err)
	}
	// The stalled acquire reached Redis; it must not leave its lease
	// behind for the hour of its TTL.
	ctx, cancel := context.WithTimeout(t.Context(), hangLimit)
	defer cancel()
	b, err := newLock(t, direct, "job").Acquire(ctx, "b", time.Hour, nil)
	if err != nil {
		t.Fatalf("Acquire after the stalled one: %v", err)
	}
	_ = b.Release(t.Context())
}

// Regression: when TryLock's wait time ran out in the middle of an acquire,
// the lease could be written under a token nobody held, the error was not
// ErrTimeout, and the same process's next TryLock was refused by its own
// orphan until the lease time ran out.
func TestTryLockTimeoutLeavesNoLock(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts redis.Options
	}{
		{"client read timeout", redis.Options{ReadTimeout: 500 * time.Millisecond}},
		// The socket then fails at the wait time's deadline, a moment
		// before the context says so.
		{"client with context deadlines", redis.Options{ContextTimeoutEnabled: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, c, direct := proxied(t, tc.opts)
			l, err := lockcore.New(c, "job", lockcore.Options{Identity: "worker"})
			if err != nil {
				t.Fatal(err)
			}
			loadScripts(t, direct)
			p.Arm("evalsha", chaos.Stall)
			_, err = locks.MutexOf(l, false).TryLock(t.Context(), 100*time.Millisecond, time.Hour)
			if !errors.Is(err, lockcore.ErrTimeout) {
				t.Fatalf("TryLock cut short: %v, want ErrTimeout", err)
			}
			// If the cleanup had missed the stalled script, the lease would
			// live for an hour; a waiter wakes on the release instead.
			m, err := locks.MutexOf(l, false).TryLock(t.Context(), hangLimit, time.Hour)
			if err != nil {
				t.Fatalf("next TryLock: %v", err)
			}
			if err := m.Release(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

// Regression: the watchdog reported Lost only once the lease could already
// have expired in Redis (sent + TTL), leaving the application no time to
// stop. It now reports it at sent + 2/3 TTL.
func TestWatchdogReportsLostWithAMargin(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	clock := &fakeClock{now: time.Now()}
	const ttl = 600 * time.Millisecond
	l, err := lockcore.New(c, "job", lockcore.Options{WatchdogTimeout: ttl, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := locks.MutexOf(l, false).TryLock(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	// Past two thirds of the TTL, but the lease could still be alive. The
	// clock stands still: only the margin can make the watchdog give up.
	clock.Set(m.SentAt().Add(ttl * 3 / 4))
	select {
	case <-m.Lost():
	case <-time.After(hangLimit):
		t.Fatal("watchdog did not report the lock lost at 3/4 of its TTL")
	}
	if err := m.Err(); err == nil || errors.Is(err, lockcore.ErrLost) {
		t.Errorf("Err = %v, want the renew failure", err)
	}
}
