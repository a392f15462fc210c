//go:build unix

package locks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

// TestFairOrder queues waiters one after another, each only once the one
// before it is confirmed in the queue, so the arrival order is known; they
// must acquire in exactly that order, and each hand-off must be one
// PUBLISH, to the head's own channel.
func TestFairOrder(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	l, err := lockcore.New(c, "stock-42", lockcore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, wakePrefix := l.QueueKeys()
	_, _, released := l.Keys()

	// Every wake-up and release message, as Redis delivers them.
	ps := c.PSubscribe(ctx, wakePrefix+"*", released)
	t.Cleanup(func() { _ = ps.Close() })
	for range 2 {
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var (
		msgMu    sync.Mutex
		messages []string
	)
	go func() {
		for m := range ps.Channel() {
			msgMu.Lock()
			messages = append(messages, m.Channel)
			msgMu.Unlock()
		}
	}()

	first, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	const waiters = 25
	var (
		mu    sync.Mutex
		order []int
	)
	errs := make(chan error, waiters)
	for i := range waiters {
		go func() {
			m, err := locks.MutexOf(l, true).TryLock(ctx, -1, time.Minute)
			if err != nil {
				errs <- fmt.Errorf("waiter %d: %w", i, err)
				return
			}
			// Recorded while holding the lock: the lock orders the appends.
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			errs <- m.Release(ctx)
		}()
		eventually(t, 20*time.Second, fmt.Sprintf("waiter %d queued", i), func() bool { return queued(t, l) == i+1 })
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
	t.Logf("FIGURE fair order: %d waiters, %d order violations", waiters, violations)
	if violations != 0 {
		t.Errorf("acquisition order %v, want 0..%d: %d violations", order, waiters-1, violations)
	}
	// waiters+1 releases: each published once, the last one (queue empty)
	// on the release channel, all others to a head's wake channel.
	if got := calls["publish"]; got != waiters+1 {
		t.Errorf("%d PUBLISH for %d releases, want one each", got, waiters+1)
	}
	// Before them, the first waiter's enqueue announced the new queue on
	// the release channel, for plain waiters to join it.
	eventually(t, 10*time.Second, "all messages delivered", func() bool {
		msgMu.Lock()
		defer msgMu.Unlock()
		return len(messages) >= waiters+2
	})
	msgMu.Lock()
	defer msgMu.Unlock()
	wakes := 0
	for _, ch := range messages {
		if strings.HasPrefix(ch, wakePrefix) {
			wakes++
		}
	}
	if wakes != waiters || len(messages) != waiters+2 || messages[0] != released || messages[len(messages)-1] != released {
		t.Errorf("messages %d (wake-ups %d), first on %q, last on %q; want the queue's start and %d wake-ups, then one release message",
			len(messages), wakes, messages[0], messages[len(messages)-1], waiters)
	}
	if n := c.Exists(ctx, wakePrefix[:len(wakePrefix)-len("wake:")]+"queue").Val(); n != 0 {
		t.Errorf("queue key left behind")
	}
}

func TestFairAndPlainExcludeEachOther(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	l := newLock(t, srv.Client(), "job")
	m, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute); !errors.Is(err, lockcore.ErrTimeout) || !errors.Is(err, lockcore.ErrHeld) {
		t.Errorf("TryLockFair while TryLock holds: %v, want ErrTimeout and ErrHeld", err)
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Minute); !errors.Is(err, lockcore.ErrHeld) {
		t.Errorf("TryLock while TryLockFair holds: %v, want ErrHeld", err)
	}
	if f.Fence() <= m.Fence() {
		t.Errorf("fence %d after %d: one counter for both", f.Fence(), m.Fence())
	}
	// A plain waiter is woken by the fair holder's release when nobody is
	// queued: with an hour-long lease, only the message can wake it.
	done := make(chan error, 1)
	go func() {
		m, err := locks.MutexOf(l, false).TryLock(ctx, 20*time.Second, time.Hour)
		if err == nil {
			err = m.Release(ctx)
		}
		done <- err
	}()
	_, _, released := l.Keys()
	eventually(t, 10*time.Second, "plain waiter subscribed", func() bool {
		n, _ := srv.Client().PubSubNumSub(ctx, released).Result()
		return n[released] == 1
	})
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("plain waiter: %v", err)
	}
}

func TestFairWaiterTimeoutLeavesQueue(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	m, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = locks.MutexOf(l, true).TryLock(ctx, 500*time.Millisecond, time.Minute)
	var held *lockcore.HeldError
	if !errors.Is(err, lockcore.ErrTimeout) || !errors.As(err, &held) || held.Holder.Fence != m.Fence() {
		t.Fatalf("TryLockFair: %v, want ErrTimeout with the holder", err)
	}
	// Gone when TryLockFair returns, or, when the end of the wait cut a
	// try short that still ran in Redis and queued the waiter again, once
	// that try's late reply has taken the entry out: nothing else would
	// (an entry that outlives its refreshes is pruned only by a script
	// that looks).
	queue, deadlines, _ := l.QueueKeys()
	gone := func(what string) {
		eventually(t, 5*time.Second, "no queue keys left after "+what, func() bool {
			return c.Exists(ctx, queue, deadlines).Val() == 0
		})
	}
	gone("the wait ran out")
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		eventually(t, 10*time.Second, "waiter queued", func() bool { return queued(t, l) == 1 })
		cancel()
	}()
	if _, err := locks.MutexOf(l, true).TryLock(cctx, -1, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("TryLockFair cancelled: %v", err)
	}
	gone("cancel")
}

// A queue entry whose waiter stopped refreshing it (here one that no
// waiter ever owned, with a deadline in Redis time) blocks the queue until
// its deadline, and not longer.
func TestFairDeadEntryDropsOut(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	const hb = 50 * time.Millisecond
	l, err := lockcore.New(c, "job", lockcore.Options{QueueHeartbeat: hb})
	if err != nil {
		t.Fatal(err)
	}
	queue, deadlines, _ := l.QueueKeys()
	now, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	const ghostLife = 400 * time.Millisecond
	deadline := now.Add(ghostLife)
	c.ZAdd(ctx, queue, redis.Z{Score: 1, Member: "ghost"})
	c.ZAdd(ctx, deadlines, redis.Z{Score: float64(deadline.UnixMicro()), Member: "ghost"})

	_, err = locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	var held *lockcore.HeldError
	if !errors.Is(err, lockcore.ErrTimeout) || !errors.As(err, &held) || held.Ahead != 1 || held.Holder.Identity != "" {
		t.Fatalf("single try behind the ghost: %v, want ErrTimeout with 1 waiter ahead", err)
	}
	m, err := locks.MutexOf(l, true).TryLock(ctx, 20*time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(deadline) {
		t.Errorf("acquired at %v in Redis time, before the ghost's deadline %v", got, deadline)
	}
	t.Logf("acquired %v after the dead entry's deadline", got.Sub(deadline))
	if n := c.Exists(ctx, queue, deadlines).Val(); n != 0 {
		t.Errorf("queue keys left: %d", n)
	}
	_ = m.Release(ctx)
}

// helperEnv, when set, makes TestHelperFairWaiter a fair waiter process:
// REDIS_ADDR lock-name heartbeat.
const helperEnv = "REDISLOCK_TEST_FAIR_WAITER"

// TestHelperFairWaiter is not a test: run by TestFairKilledWaiter as a
// child process, it queues for the lock and waits until it is killed.
func TestHelperFairWaiter(t *testing.T) {
	addr, name, hb := helperSpec(t, helperEnv)
	c := redis.NewClient(&redis.Options{Addr: addr})
	l, err := lockcore.New(c, name, lockcore.Options{Identity: "child", QueueHeartbeat: hb})
	if err != nil {
		t.Fatal(err)
	}
	_, err = locks.MutexOf(l, true).TryLock(context.Background(), -1, time.Minute)
	t.Fatalf("the helper should have been killed while waiting; TryLockFair: %v", err)
}

// A waiting process killed with SIGKILL frees its place in the queue
// within the heartbeat bound: the live waiter behind it acquires about 3
// heartbeats after the kill, not minutes.
func TestFairKilledWaiter(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	const hb = 100 * time.Millisecond
	l, err := lockcore.New(c, "job", lockcore.Options{QueueHeartbeat: hb, Identity: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	child, exited, out := startHelper(t, "TestHelperFairWaiter", helperEnv, fmt.Sprintf("%s job %s", srv.Addr(), hb))
	eventually(t, 30*time.Second, "child queued", func() bool {
		select {
		case <-exited:
			t.Fatalf("the helper exited: %s", out.String())
		default:
		}
		return queued(t, l) == 1
	})

	type result struct {
		m   *locks.Held
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := locks.MutexOf(l, true).TryLock(ctx, time.Minute, time.Minute)
		done <- result{m, err}
	}()
	eventually(t, 10*time.Second, "parent's waiter queued behind the child", func() bool { return queued(t, l) == 2 })

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	killed := time.Now()
	// The release wakes the head, the dead child; nobody else is told.
	if err := holder.Release(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("live waiter: %v", r.err)
	}
	took := time.Since(killed)
	bound := lockcore.QueueMissedHeartbeats*hb + hb
	t.Logf("FIGURE killed fair waiter: place freed, next waiter acquired %v after SIGKILL (heartbeat %v, bound %v + one try)", took, hb, bound)
	// The bound plus scheduling slack for 2 busy cores; the failure this
	// catches is a queue blocked for a waiter's whole wait or longer.
	if took > bound+2*time.Second {
		t.Errorf("acquired %v after the kill, want within about %v", took, bound)
	}
	if r.m.Fence() <= holder.Fence() {
		t.Errorf("fence %d after %d", r.m.Fence(), holder.Fence())
	}
	_ = r.m.Release(ctx)
}

func TestFairValidates(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	for _, hb := range []time.Duration{-time.Second, time.Millisecond, 1500 * time.Microsecond, 2 * time.Minute} {
		if _, err := lockcore.New(c, "job", lockcore.Options{QueueHeartbeat: hb}); !errors.Is(err, lockcore.ErrInvalid) {
			t.Errorf("New with QueueHeartbeat %v: %v, want ErrInvalid", hb, err)
		}
	}
	l := newLock(t, c, "job")
	calls := callsDuring(t, c, func() {
		for _, lease := range []time.Duration{-time.Second, 1500 * time.Microsecond} {
			if _, err := locks.MutexOf(l, true).TryLock(ctx, time.Second, lease); !errors.Is(err, lockcore.ErrInvalid) {
				t.Errorf("TryLockFair lease %v: %v, want ErrInvalid", lease, err)
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
