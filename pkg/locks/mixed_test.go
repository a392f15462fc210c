//go:build unix

package locks_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

// Regression (issue 17, item 9): a plain TryLock waiter on a name with a
// fair queue waited for the PTTL it saw (30s, the watchdog's), as releases
// wake only the queue's head: beside fair clients that loop on the name, a
// plain waiter with wait=10s got 409. A plain waiter whose try finds a
// queue now joins it for the rest of its wait.
func TestPlainWaiterBesideFairLoopers(t *testing.T) {
	const (
		loopers = 4
		rounds  = 5
		wait    = 5 * time.Second
	)
	srv := redistest.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	var (
		wg       sync.WaitGroup
		handoffs atomic.Int64
	)
	defer func() { cancel(); wg.Wait() }()
	for range loopers {
		l := newLock(t, srv.Client(), "hot")
		wg.Go(func() {
			for ctx.Err() == nil {
				// The watchdog's lease (30s): a plain waiter that waits
				// for the PTTL it saw waits far longer than its wait.
				m, err := locks.MutexOf(l, true).TryLock(ctx, -1, 0)
				if err != nil {
					return
				}
				handoffs.Add(1)
				time.Sleep(time.Millisecond) // the work under the lock
				_ = m.Release(context.WithoutCancel(ctx))
			}
		})
	}
	probe := newLock(t, srv.Client(), "hot")
	eventually(t, hangLimit, "fair loopers handing off, with a queue", func() bool {
		return handoffs.Load() > 50 && queued(t, probe) > 0
	})
	plain := newLock(t, srv.Client(), "hot")
	for i := range rounds {
		start := time.Now()
		before := handoffs.Load()
		m, err := locks.MutexOf(plain, false).TryLock(ctx, wait, 0)
		if err != nil {
			t.Fatalf("round %d: plain TryLock with wait %v beside %d fair hand-offs: %v", i, wait, handoffs.Load()-before, err)
		}
		t.Logf("round %d: the plain waiter held after %v", i, time.Since(start).Round(time.Millisecond))
		if err := m.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A plain waiter that joined the queue leaves it when its wait runs out,
// as a fair waiter does: nothing of it is left in Redis.
func TestPlainWaiterLeavesTheQueueItJoined(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	holder, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fair := make(chan error, 1)
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	go func() {
		_, err := locks.MutexOf(l, true).TryLock(fctx, -1, time.Minute)
		fair <- err
	}()
	eventually(t, hangLimit, "fair waiter queued", func() bool { return queued(t, l) == 1 })
	plain := make(chan error, 1)
	go func() {
		_, err := locks.MutexOf(newLock(t, c, "job"), false).TryLock(ctx, 2*time.Second, time.Minute)
		plain <- err
	}()
	eventually(t, hangLimit, "plain waiter joined the queue", func() bool { return queued(t, l) == 2 })
	if err := <-plain; !errors.Is(err, lockcore.ErrTimeout) {
		t.Fatalf("plain waiter: %v, want ErrTimeout", err)
	}
	if n := queued(t, l); n != 1 {
		t.Errorf("%d queued after the plain waiter's wait ran out, want the fair waiter alone", n)
	}
	fcancel()
	if err := <-fair; !errors.Is(err, context.Canceled) {
		t.Fatalf("fair waiter: %v", err)
	}
	if err := holder.Release(ctx); err != nil {
		t.Fatal(err)
	}
	queue, deadlines, _ := l.QueueKeys()
	if n := c.Exists(ctx, queue, deadlines).Val(); n != 0 {
		t.Errorf("%d queue keys left, want none", n)
	}
}

// The same for a semaphore: a plain waiter beside fair waiters that loop
// on a 1-permit semaphore must get a permit within its wait.
func TestPlainSemaphoreWaiterBesideFairLoopers(t *testing.T) {
	const (
		loopers = 4
		rounds  = 5
		wait    = 5 * time.Second
	)
	srv := redistest.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	var (
		wg       sync.WaitGroup
		handoffs atomic.Int64
	)
	defer func() { cancel(); wg.Wait() }()
	newSem := func(fair bool) *locks.Semaphore {
		s, err := locks.NewSemaphoreCore(srv.Client(), "hot", 1, lockcore.SemaphoreOptions{Fair: fair})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for range loopers {
		s := newSem(true)
		wg.Go(func() {
			for ctx.Err() == nil {
				p, err := s.TryLock(ctx, -1, 0)
				if err != nil {
					return
				}
				handoffs.Add(1)
				time.Sleep(time.Millisecond)
				_ = p.Release(context.WithoutCancel(ctx))
			}
		})
	}
	probe := newSem(true)
	eventually(t, hangLimit, "fair loopers handing off, with a queue", func() bool {
		info, err := probe.Inspect(ctx)
		return err == nil && handoffs.Load() > 50 && info.Queue > 0
	})
	plain := newSem(false)
	for i := range rounds {
		before := handoffs.Load()
		p, err := plain.TryLock(ctx, wait, 0)
		if err != nil {
			t.Fatalf("round %d: plain TryAcquire with wait %v beside %d fair hand-offs: %v", i, wait, handoffs.Load()-before, err)
		}
		if err := p.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
