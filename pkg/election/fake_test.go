package election

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// guard bounds every wait in these tests, so a broken elector fails the
// test instead of hanging it. It is never what makes a test pass.
const guard = 10 * time.Second

// skewClock is a fake clock whose Now can run ahead of its timers, as after
// a process pause: time has passed, but no timer has been handled yet.
type skewClock struct {
	*testingclock.FakeClock
	skew atomic.Int64
}

func (c *skewClock) Now() time.Time                  { return c.FakeClock.Now().Add(time.Duration(c.skew.Load())) }
func (c *skewClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

type acquireCall struct {
	ctx    context.Context
	onHeld func(Holder)
	reply  chan acquireReply
}

type acquireReply struct {
	lease Lease
	err   error
}

type renewCall struct {
	ctx   context.Context
	reply chan error
}

// fakeLocker hands every call to the test, which answers it.
type fakeLocker struct {
	acquires chan acquireCall
	renews   chan renewCall
	releases chan uint64
}

func newFakeLocker() *fakeLocker {
	return &fakeLocker{
		acquires: make(chan acquireCall),
		renews:   make(chan renewCall),
		releases: make(chan uint64, 16),
	}
}

func (f *fakeLocker) Acquire(ctx context.Context, _ string, _ time.Duration, onHeld func(Holder)) (Lease, error) {
	c := acquireCall{ctx: ctx, onHeld: onHeld, reply: make(chan acquireReply, 1)}
	select {
	case f.acquires <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-c.reply:
		return r.lease, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type fakeLease struct {
	f      *fakeLocker
	fence  uint64
	sentAt time.Time
}

func (l *fakeLease) Fence() uint64     { return l.fence }
func (l *fakeLease) SentAt() time.Time { return l.sentAt }

func (l *fakeLease) Renew(ctx context.Context) error {
	c := renewCall{ctx: ctx, reply: make(chan error, 1)}
	select {
	case l.f.renews <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *fakeLease) Release(context.Context) error {
	l.f.releases <- l.fence
	return nil
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func none[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	default:
	}
}

// waitFor blocks until cond holds, re-checking at each status change.
func waitFor(t *testing.T, e *Elector, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.After(guard)
	for {
		ch := e.Changed()
		if s := e.Status(); cond(s) {
			return s
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; status %+v", what, e.Status())
		}
	}
}

// waitWaiters blocks until the fake clock has n pending timers.
func waitWaiters(t *testing.T, c *testingclock.FakeClock, n int) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for c.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d timers (have %d)", n, c.Waiters())
		}
		time.Sleep(time.Millisecond) // yield to the loop; correctness does not depend on it
	}
}
