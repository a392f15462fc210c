//go:build unix

package locks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/locks"
)

// A name whose holder released it is free again once its keys have
// expired: the fence memory must not keep the released lease's end, or the
// next acquire, finding the counter gone (below the fence remembered),
// quarantines the name until that end, an hour for a lease of an hour.
// Seen: a released permit (Permit.Release never told the memory), and a
// lock whose release ran although its reply was lost (the retry that
// succeeds found the lease gone and never told it either).
func TestAReleasedNameIsNotQuarantinedAfterItsKeysExpire(t *testing.T) {
	const lease = time.Hour
	for _, tc := range []struct {
		name string
		// take takes the name through c and returns its release and a
		// try to take it again at once.
		take func(t *testing.T, c lockcore.Client, opts lockcore.Options) (release func(context.Context) error, again func() error)
	}{
		{"permit", func(t *testing.T, c lockcore.Client, opts lockcore.Options) (func(context.Context) error, func() error) {
			s, err := locks.NewSemaphoreCore(c, "rel", 1, lockcore.SemaphoreOptions{Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.TryLock(t.Context(), 0, lease)
			if err != nil {
				t.Fatal(err)
			}
			return p.Release, func() error { _, err := s.TryLock(t.Context(), 0, lease); return err }
		}},
		{"lock", func(t *testing.T, c lockcore.Client, opts lockcore.Options) (func(context.Context) error, func() error) {
			l, err := lockcore.New(c, "rel", opts)
			if err != nil {
				t.Fatal(err)
			}
			m, err := locks.MutexOf(l, false).TryLock(t.Context(), 0, lease)
			if err != nil {
				t.Fatal(err)
			}
			return m.Release, func() error {
				_, err := locks.MutexOf(l, false).TryLock(t.Context(), 0, lease)
				return err
			}
		}},
	} {
		for _, lostReply := range []bool{false, true} {
			name := tc.name + "/released"
			if lostReply {
				name = tc.name + "/reply of the release lost"
			}
			t.Run(name, func(t *testing.T) {
				p, c, direct := behindProxy(t)
				opts := releaseOpts()
				opts.AttemptTimeout = 300 * time.Millisecond
				opts.KeyGrace = 100 * time.Millisecond
				kind := map[string]string{"permit": "semaphore", "lock": "lock"}[tc.name]
				release, again := tc.take(t, c, opts)
				if lostReply {
					warmRelease(t, c, kind, opts)
					p.SetLatency(250 * time.Millisecond)
					if err := release(t.Context()); err == nil || errors.Is(err, lockcore.ErrNotHeld) {
						t.Fatalf("release with a lost reply = %v; want a transport error", err)
					}
					p.SetLatency(0)
				}
				if err := release(t.Context()); err != nil {
					t.Fatalf("release: %v", err)
				}
				eventually(t, 5*time.Second, "keys expired", func() bool { return len(keysLeft(t, direct)) == 0 })
				if err := again(); err != nil {
					t.Fatalf("take again after the release and the keys' expiry: %v; want it at once", err)
				}
			})
		}
	}
}

// The release of one permit says nothing of the client's other permits:
// after Redis lost its data, the semaphore admits nobody while a permit it
// issued can still be valid, even when the permit of the highest fence was
// released before the loss.
func TestAReleasedPermitKeepsTheOthersRemembered(t *testing.T) {
	_, c, direct := behindProxy(t)
	ctx := t.Context()
	s, err := locks.NewSemaphoreCore(c, "pool", 2, lockcore.SemaphoreOptions{Options: releaseOpts()})
	if err != nil {
		t.Fatal(err)
	}
	const lease = time.Minute
	first, err := s.TryLock(ctx, 0, lease)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.TryLock(ctx, 0, lease)
	if err != nil {
		t.Fatal(err)
	}
	if second.Fence() <= first.Fence() {
		t.Fatalf("fences %d then %d", first.Fence(), second.Fence())
	}
	if err := second.Release(ctx); err != nil {
		t.Fatal(err)
	}
	direct.FlushAll(ctx)
	_, err = s.TryLock(ctx, 0, lease)
	var held *lockcore.HeldError
	if !errors.As(err, &held) || held.Holder.Identity != "" {
		t.Fatalf("acquire after FLUSHALL while the permit at fence %d is held: %v; want a quarantine", first.Fence(), err)
	}
	if left := time.Until(first.SentAt().Add(lease)); held.Holder.Remaining < left-time.Second {
		t.Errorf("quarantine for %v; want until the held permit's end, %v from now", held.Holder.Remaining, left)
	}
}

// The memory's bound must not cost a lease the client issued for one it
// merely saw held by someone else: a client that keeps finding other
// clients' names held (their leases longer than its own) pushed out the
// lease it issued, and after a FLUSHALL granted that name again while its
// first lease was still valid.
func TestTheFenceMemoryKeepsIssuedLeasesBeforeSeenOnes(t *testing.T) {
	_, c, direct := behindProxy(t)
	ctx := t.Context()
	mem, err := lockcore.NewFenceMemory(2)
	if err != nil {
		t.Fatal(err)
	}
	mine := func(name string) *lockcore.Lock {
		l, err := lockcore.New(c, name, lockcore.Options{Fences: mem})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	const lease = 30 * time.Second
	first, err := locks.MutexOf(mine("x"), false).TryLock(ctx, 0, lease)
	if err != nil {
		t.Fatal(err)
	}
	// Another client holds y and z for longer; this one finds them held.
	for _, name := range []string{"y", "z"} {
		other, err := lockcore.New(c, name, lockcore.Options{Identity: "other"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := locks.MutexOf(other, false).TryLock(ctx, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := locks.MutexOf(mine(name), false).TryLock(ctx, 0, lease); !errors.Is(err, lockcore.ErrHeld) {
			t.Fatalf("TryLock %s held by another: %v; want ErrHeld", name, err)
		}
	}
	direct.FlushAll(ctx)
	second, err := locks.MutexOf(mine("x"), false).TryLock(ctx, 0, lease)
	if err == nil {
		t.Fatalf("x granted again (fence %d) while the lease at fence %d is valid for %v more",
			second.Fence(), first.Fence(), time.Until(first.SentAt().Add(lease)))
	}
	var held *lockcore.HeldError
	if !errors.As(err, &held) || held.Holder.Identity != "" {
		t.Fatalf("TryLock x after FLUSHALL: %v; want a quarantine", err)
	}
}
