//go:build unix

package locks_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/test/chaos"
)

// releaseWD is the watchdog TTL of the release tests: a renew every
// second, Lost two seconds after the last successful one.
const releaseWD = 3 * time.Second

// heldThing is a Locked or a Permit under the watchdog, with what the
// release tests read of it.
type heldThing struct {
	release func(context.Context) error
	lost    <-chan struct{}
	err     func() error
}

// releaseKind takes one lock or 1-permit semaphore through c (behind the
// proxy), a competitor straight to Redis, and reads the holder's time left.
type releaseKind struct {
	name    string
	take    func(t *testing.T, c lockcore.Client) heldThing
	compete func(ctx context.Context, c lockcore.Client) error
	// left is the holder's remaining lease in Redis; 0 when nobody holds.
	left func(t *testing.T, c lockcore.Client) time.Duration
}

var releaseKinds = []releaseKind{
	{
		name: "lock",
		take: func(t *testing.T, c lockcore.Client) heldThing {
			m, err := locks.MutexOf(mustLock(t, c), false).TryLock(t.Context(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			return heldThing{release: m.Release, lost: m.Lost(), err: m.Err}
		},
		compete: func(ctx context.Context, c lockcore.Client) error {
			l, err := lockcore.New(c, "rel", lockcore.Options{Identity: "competitor"})
			if err != nil {
				return err
			}
			_, err = locks.MutexOf(l, false).TryLock(ctx, -1, time.Minute)
			return err
		},
		left: func(t *testing.T, c lockcore.Client) time.Duration {
			info, err := mustLock(t, c).Inspect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return info.Remaining
		},
	},
	{
		name: "permit",
		take: func(t *testing.T, c lockcore.Client) heldThing {
			p, err := mustSem(t, c).TryLock(t.Context(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			return heldThing{release: p.Release, lost: p.Lost(), err: p.Err}
		},
		compete: func(ctx context.Context, c lockcore.Client) error {
			s, err := locks.NewSemaphoreCore(c, "rel", 1, lockcore.SemaphoreOptions{Options: lockcore.Options{Identity: "competitor"}})
			if err != nil {
				return err
			}
			_, err = s.TryLock(ctx, -1, time.Minute)
			return err
		},
		left: func(t *testing.T, c lockcore.Client) time.Duration {
			info, err := mustSem(t, c).Inspect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(info.Holders) == 0 {
				return 0
			}
			return info.Holders[0].Remaining
		},
	},
}

func releaseOpts() lockcore.Options {
	return lockcore.Options{Identity: "holder", WatchdogTimeout: releaseWD, AttemptTimeout: time.Second}
}

func mustLock(t *testing.T, c lockcore.Client) *lockcore.Lock {
	t.Helper()
	l, err := lockcore.New(c, "rel", releaseOpts())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustSem(t *testing.T, c lockcore.Client) *locks.Semaphore {
	t.Helper()
	s, err := locks.NewSemaphoreCore(c, "rel", 1, lockcore.SemaphoreOptions{Options: releaseOpts()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// behindProxy starts Redis behind a fault proxy and returns a client through
// it (one request per call, no retries) and one straight to Redis.
func behindProxy(t *testing.T) (p *chaos.Proxy, viaProxy, direct *redis.Client) {
	t.Helper()
	return proxied(t, redis.Options{})
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Regression (issue 17, item 1): Unlock and Permit.Release stopped the
// watchdog and dropped the hold before they talked to Redis, so a release
// that failed on a fault left a lease nobody renewed, Lost was never
// closed, another client got the lock from under the holder, and a retry
// answered "already unlocked". A release that fails so must leave the
// holder holding: the watchdog renews on and a retry releases.
func TestAFailedReleaseKeepsHolding(t *testing.T) {
	faults := []struct {
		name       string
		start, end func(p *chaos.Proxy)
	}{
		{"black hole", func(p *chaos.Proxy) { p.SetBlackhole(true) }, func(p *chaos.Proxy) { p.SetBlackhole(false) }},
		{"killed connection", func(p *chaos.Proxy) { p.StallActive() }, func(p *chaos.Proxy) { p.Unstall() }},
	}
	for _, k := range releaseKinds {
		for _, f := range faults {
			t.Run(k.name+"/"+f.name, func(t *testing.T) {
				p, c, direct := behindProxy(t)
				h := k.take(t, c)
				f.start(p)
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				err := h.release(ctx)
				cancel()
				if err == nil || errors.Is(err, lockcore.ErrNotHeld) {
					t.Fatalf("release during the fault = %v; want a transport error", err)
				}
				f.end(p)
				// The watchdog renews on: the lease's time left goes up
				// again, beyond what the acquire gave it.
				before := k.left(t, direct)
				eventually(t, 2*releaseWD, "a renew after the failed release", func() bool {
					return k.left(t, direct) > before
				})
				if isClosed(h.lost) {
					t.Fatalf("Lost closed after a failed release: %v", h.err())
				}
				if err := h.release(t.Context()); err != nil {
					t.Fatalf("retry of the release = %v; want nil", err)
				}
				if left := k.left(t, direct); left != 0 {
					t.Errorf("a lease with %v left is still in Redis after the release", left)
				}
				if isClosed(h.lost) {
					t.Errorf("Lost closed after a successful release: %v", h.err())
				}
				if err := h.release(t.Context()); !errors.Is(err, lockcore.ErrNotHeld) {
					t.Errorf("second release = %v; want ErrNotHeld", err)
				}
			})
		}
	}
}

// Regression (issue 17, item 1): with Redis unreachable for longer than
// the lease's validity, a failed release must close Lost before the lease
// can expire, so that the holder is told before another client is granted
// the lock; a retry once Redis is back finds it gone.
func TestAReleaseFailingPastTheValidityClosesLost(t *testing.T) {
	for _, k := range releaseKinds {
		t.Run(k.name, func(t *testing.T) {
			p, c, direct := behindProxy(t)
			h := k.take(t, c)
			granted := make(chan bool, 1) // Lost was closed at the grant
			go func() {
				err := k.compete(t.Context(), direct)
				granted <- err == nil && isClosed(h.lost)
			}()
			p.SetBlackhole(true)
			err := h.release(context.Background())
			if err == nil || errors.Is(err, lockcore.ErrNotHeld) {
				t.Fatalf("release during the black hole = %v; want a transport error", err)
			}
			select {
			case told := <-granted:
				if !told {
					t.Fatal("another client was granted the lock before the holder's Lost was closed")
				}
			case <-time.After(hangLimit):
				t.Fatal("the competitor was never granted the lock")
			}
			if h.err() == nil {
				t.Errorf("Err() = nil after Lost")
			}
			p.SetBlackhole(false)
			if err := h.release(t.Context()); !errors.Is(err, lockcore.ErrNotHeld) {
				t.Errorf("retry once Redis is back = %v; want ErrNotHeld (the competitor holds it)", err)
			}
		})
	}
}

// A release racing the watchdog's renews: an Unlock that returned nil
// leaves no lease in Redis and never a closed Lost, whenever it comes in
// the renew cycle.
func TestAReleaseRacingARenew(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	l, err := lockcore.New(c, "race", lockcore.Options{WatchdogTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lease, _, _ := l.Keys()
	for i := range 40 {
		m, err := locks.MutexOf(l, false).TryLock(t.Context(), -1, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Spread the Unlocks over the renew cycle (a renew every 100ms).
		time.Sleep(time.Duration(i%20) * 5 * time.Millisecond)
		if isClosed(m.Lost()) {
			continue // a busy machine delayed the renews past the validity
		}
		err = m.Release(t.Context())
		if err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		if isClosed(m.Lost()) {
			t.Fatalf("round %d: Lost closed after a successful Unlock: %v", i, m.Err())
		}
		if n, err := c.Exists(t.Context(), lease).Result(); err != nil || n != 0 {
			t.Fatalf("round %d: lease in Redis after Unlock: %d, %v", i, n, err)
		}
	}
}

// A release still unanswered when the lease's validity runs out (a long
// attempt timeout, Redis black-holed) is cut there, and its error says the
// holding has ended: it matches ErrLost, and Lost is closed when it
// returns, a third of the TTL before the lease can expire. A failure that
// left the holder believing it holds would have it learn the loss only
// from a later renew, after others could be granted the name.
func TestAReleaseCutAtTheValidityEndsTheHolding(t *testing.T) {
	for _, k := range releaseKinds {
		t.Run(k.name, func(t *testing.T) {
			p, c, _ := behindProxy(t)
			opts := releaseOpts()
			opts.AttemptTimeout = 3 * releaseWD // longer than the validity
			h := takeWith(t, k.name, c, opts, 0)
			p.SetBlackhole(true)
			err := h.release(context.Background())
			if !errors.Is(err, lockcore.ErrLost) || !isClosed(h.lost) {
				t.Fatalf("release cut at the validity = %v, Lost closed %v; want ErrLost with Lost closed", err, isClosed(h.lost))
			}
			if !errors.Is(h.err(), lockcore.ErrLost) {
				t.Errorf("Err() = %v; want ErrLost", h.err())
			}
			p.SetBlackhole(false)
			if err := h.release(t.Context()); !errors.Is(err, lockcore.ErrNotHeld) {
				t.Errorf("a second release = %v; want ErrNotHeld", err)
			}
		})
	}
}

// A release that ran in Redis though its reply was lost (latency past the
// attempt timeout) fails; the retry finds the lease gone while it could
// not have expired yet, which is the first try's work: it succeeds, so a
// release is idempotent, and nothing is left in Redis. Both forms: a lease
// time, and the watchdog.
func TestARetriedReleaseAfterALostReplySucceeds(t *testing.T) {
	for _, k := range releaseKinds {
		for _, lease := range []time.Duration{time.Minute, 0} {
			t.Run(fmt.Sprintf("%s/lease=%v", k.name, lease), func(t *testing.T) {
				p, c, direct := behindProxy(t)
				opts := releaseOpts()
				opts.AttemptTimeout = 300 * time.Millisecond
				h := takeWith(t, k.name, c, opts, lease)
				// Load the release script, so that the slow try is one
				// round trip, then slow every packet past the attempt timeout.
				warmRelease(t, c, k.name, opts)
				p.SetLatency(250 * time.Millisecond)
				if err := h.release(t.Context()); err == nil || errors.Is(err, lockcore.ErrNotHeld) {
					t.Fatalf("release with a lost reply = %v; want a transport error", err)
				}
				if left := k.left(t, direct); left != 0 {
					t.Fatalf("the slow release did not run in Redis: %v left", left)
				}
				p.SetLatency(0)
				if err := h.release(t.Context()); err != nil {
					t.Fatalf("retry after a release whose reply was lost = %v; want nil (idempotent)", err)
				}
				if err := h.release(t.Context()); !errors.Is(err, lockcore.ErrNotHeld) {
					t.Errorf("a release after the successful retry = %v; want ErrNotHeld", err)
				}
			})
		}
	}
}

// takeWith takes "rel" as kind ("lock" or "permit") through c with opts
// and a lease time (0: the watchdog).
func takeWith(t *testing.T, kind string, c lockcore.Client, opts lockcore.Options, lease time.Duration) heldThing {
	t.Helper()
	if kind == "lock" {
		l, err := lockcore.New(c, "rel", opts)
		if err != nil {
			t.Fatal(err)
		}
		m, err := locks.MutexOf(l, false).TryLock(t.Context(), 0, lease)
		if err != nil {
			t.Fatal(err)
		}
		return heldThing{release: m.Release, lost: m.Lost(), err: m.Err}
	}
	s, err := locks.NewSemaphoreCore(c, "rel", 1, lockcore.SemaphoreOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.TryLock(t.Context(), 0, lease)
	if err != nil {
		t.Fatal(err)
	}
	return heldThing{release: p.Release, lost: p.Lost(), err: p.Err}
}

// warmOpts are opts for another name's keys: a prefix of their own.
func warmOpts(opts lockcore.Options) lockcore.Options {
	opts.Prefix = "warm"
	return opts
}

// warmRelease takes and releases another lock or permit through c, which
// loads the release script into Redis's cache.
func warmRelease(t *testing.T, c lockcore.Client, kind string, opts lockcore.Options) {
	t.Helper()
	if err := takeWith(t, kind, c, warmOpts(opts), time.Minute).release(t.Context()); err != nil {
		t.Fatal(err)
	}
}
