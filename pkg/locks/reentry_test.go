//go:build unix

package locks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

type derivedKey struct{}

func TestTryLockIsReentrantForItsOwner(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	l, err := lockcore.New(c, "mutex", lockcore.Options{WatchdogTimeout: 3 * time.Second, Identity: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	leaseKey, _, _ := l.Keys()
	ctx := locks.WithOwner(t.Context())
	// Another owner: a context without one, and one with its own.
	others := map[string]context.Context{
		"no owner":      t.Context(),
		"another owner": locks.WithOwner(t.Context()),
	}
	blocked := func(step string) {
		t.Helper()
		for name, octx := range others {
			if _, err := locks.MutexOf(l, false).TryLock(octx, 0, time.Minute); !errors.Is(err, lockcore.ErrTimeout) {
				t.Fatalf("%s: TryLock by %s: %v, want ErrTimeout", step, name, err)
			}
		}
	}

	outer, err := locks.MutexOf(l, false).TryLock(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	blocked("held once")
	// A context derived from the owner's is the same owner; so is another
	// *Lock for the same name on the same client.
	again, err := locks.MutexOf(newLock(t, c, "mutex"), false).TryLock(context.WithValue(ctx, derivedKey{}, 1), 0, 0)
	if err != nil {
		t.Fatalf("re-entry: %v", err)
	}
	if again != outer || outer.Holds() != 2 {
		t.Fatalf("re-entry returned %p with %d holds, want %p with 2", again, outer.Holds(), outer)
	}
	blocked("held twice")

	if err := again.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := c.HGet(t.Context(), leaseKey, "owner").Val(); got != outer.Token() {
		t.Fatalf("after one of two unlocks the lease owner is %q, want still held", got)
	}
	blocked("held after one unlock")

	if err := outer.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(t.Context(), leaseKey).Val(); n != 0 {
		t.Fatal("lease still there after the last unlock")
	}
	if err := outer.Release(t.Context()); !errors.Is(err, lockcore.ErrNotHeld) {
		t.Errorf("extra Unlock: %v, want ErrNotHeld", err)
	}
	for name, octx := range others {
		m, err := locks.MutexOf(l, false).TryLock(octx, 0, time.Minute)
		if err != nil {
			t.Fatalf("TryLock by %s after the release: %v", name, err)
		}
		_ = m.Release(t.Context())
	}

	// After the last unlock the owner starts afresh, with a new fence.
	next, err := locks.MutexOf(l, false).TryLock(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if next == outer || next.Fence() <= outer.Fence() {
		t.Errorf("TryLock after the last unlock re-entered the old hold (fence %d, then %d)", outer.Fence(), next.Fence())
	}
	_ = next.Release(t.Context())
}

func TestReentryChecksTheLease(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	l := newLock(t, c, "mutex")
	ctx := locks.WithOwner(t.Context())
	m, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	leaseKey, _, _ := l.Keys()
	c.Del(t.Context(), leaseKey, l.TermKey())
	if _, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Minute); !errors.Is(err, lockcore.ErrLost) {
		t.Fatalf("re-entry of a lease that is gone: %v, want ErrLost", err)
	}
	select {
	case <-m.Lost():
	default:
		t.Error("the failed re-entry did not mark the lock lost")
	}
	if m.Holds() != 1 {
		t.Errorf("holds = %d after a failed re-entry, want 1", m.Holds())
	}
}
