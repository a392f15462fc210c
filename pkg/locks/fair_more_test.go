//go:build unix

package locks_test

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

// A queued waiter keeps its place for as long as it waits: its heartbeat
// moves its entry's deadline, in Redis time, again and again.
func TestFairHeartbeatKeepsPlace(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	// Short, yet with room for a busy machine's scheduling delays: an
	// entry lives 3 heartbeats after its last refresh.
	const hb = 100 * time.Millisecond
	l, err := lockcore.New(c, "job", lockcore.Options{QueueHeartbeat: hb})
	if err != nil {
		t.Fatal(err)
	}
	m, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		w, err := locks.MutexOf(l, true).TryLock(ctx, time.Minute, time.Minute)
		if err == nil {
			err = w.Release(ctx)
		}
		done <- err
	}()
	eventually(t, 10*time.Second, "waiter queued", func() bool { return queued(t, l) == 1 })
	_, deadlines, _ := l.QueueKeys()
	entry := func() float64 {
		zs := c.ZRangeWithScores(ctx, deadlines, 0, -1).Val()
		if len(zs) != 1 {
			t.Fatalf("queue entries %v, want the waiter's alone", zs)
		}
		return zs[0].Score
	}
	first := entry()
	// Five entry lifetimes: an entry that was not refreshed would be long
	// dead, and Inspect would count it out.
	limit := first + float64((5 * lockcore.QueueMissedHeartbeats * hb).Microseconds())
	eventually(t, 30*time.Second, "entry refreshed for ten lifetimes", func() bool {
		if queued(t, l) != 1 {
			t.Fatal("the waiter lost its place while alive")
		}
		return entry() > limit
	})
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFairReentrant(t *testing.T) {
	srv := redistest.Start(t)
	ctx := locks.WithOwner(t.Context())
	l := newLock(t, srv.Client(), "job")
	outer, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := locks.MutexOf(l, true).TryLock(ctx, time.Second, time.Minute)
	if err != nil || inner != outer || outer.Holds() != 2 {
		t.Fatalf("re-entry: %v (same %v, holds %d)", err, inner == outer, outer.Holds())
	}
	if err := inner.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := outer.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := outer.Renew(ctx); !errors.Is(err, lockcore.ErrNotHeld) {
		t.Errorf("Renew after the last Unlock: %v, want ErrNotHeld", err)
	}
}

func TestLockedRenew(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l := newLock(t, c, "job")
	m, err := locks.MutexOf(l, true).TryLock(ctx, 0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.TTL() != 10*time.Second || len(m.Token()) != 32 {
		t.Errorf("TTL %v token %q", m.TTL(), m.Token())
	}
	lease, _, _ := l.Keys()
	c.PExpire(ctx, lease, time.Second)
	if err := m.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if pttl := c.PTTL(ctx, lease).Val(); pttl <= 5*time.Second {
		t.Errorf("PTTL after Renew %v, want about 10s", pttl)
	}
	c.Del(ctx, lease)
	if err := m.Renew(ctx); !errors.Is(err, lockcore.ErrLost) {
		t.Errorf("Renew of a deleted lease: %v, want ErrLost", err)
	}
	select {
	case <-m.Lost():
	default:
		t.Error("Lost not closed")
	}
}

func TestFairAndSemaphoreACL(t *testing.T) {
	srv := redistest.Start(t,
		"user default off",
		"user admin on >s3cret ~* &* +@all",
		// May use the lock's keys and its release channel, but no wake
		// channel, and not the semaphore's channels.
		"user narrow on >s3cret ~baton:* &baton:{job}:released +@all",
	)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "narrow", Password: "s3cret"})
	t.Cleanup(func() { _ = c.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "admin", Password: "s3cret"})
	t.Cleanup(func() { _ = admin.Close() })
	ctx := t.Context()

	l := newLock(t, c, "job")
	_, err := locks.MutexOf(l, true).TryLock(ctx, time.Second, time.Minute)
	var denied *lockcore.DeniedError
	if !errors.As(err, &denied) || denied.Command != "SUBSCRIBE" || !strings.Contains(denied.Channel, ":wake:") {
		t.Fatalf("TryLockFair without the wake channel: %v, want DeniedError for SUBSCRIBE on it", err)
	}
	if n := admin.DBSize(ctx).Val(); n != 0 {
		t.Errorf("%d keys written by a denied fair acquire", n)
	}
	// The plain lock still works for this user.
	m, err := locks.MutexOf(l, false).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	_ = m.Release(ctx)

	s := newSemaphore(t, c, "job", 2, lockcore.SemaphoreOptions{})
	_, err = s.TryLock(ctx, 0, time.Minute)
	if !errors.As(err, &denied) || denied.Command != "PUBLISH" {
		t.Fatalf("semaphore TryAcquire without its channel: %v, want DeniedError for PUBLISH", err)
	}
	if keys := admin.Keys(ctx, "*:sem:*").Val(); len(keys) != 0 {
		t.Errorf("keys %v written by a denied semaphore acquire", keys)
	}
}

// semHolderEnv, when set, makes TestHelperSemaphoreHolder a process that
// holds a permit under the watchdog: REDIS_ADDR name watchdog-timeout.
const semHolderEnv = "REDISLOCK_TEST_SEM_HOLDER"

// TestHelperSemaphoreHolder is not a test: run by
// TestSemaphoreKilledHolder as a child process, it takes a permit with the
// watchdog and keeps it until it is killed.
func TestHelperSemaphoreHolder(t *testing.T) {
	addr, name, wd := helperSpec(t, semHolderEnv)
	c := redis.NewClient(&redis.Options{Addr: addr})
	s, err := locks.NewSemaphoreCore(c, name, 1, lockcore.SemaphoreOptions{Options: lockcore.Options{Identity: "child", WatchdogTimeout: wd}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.TryLock(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Lost()
	t.Fatalf("the helper should have been killed while holding; lost: %v", p.Err())
}

// A holder process killed with SIGKILL while its watchdog renews the
// permit: the permit comes back within one watchdog TTL.
func TestSemaphoreKilledHolder(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	const wd = 600 * time.Millisecond
	s := newSemaphore(t, c, "pool", 1, lockcore.SemaphoreOptions{Options: lockcore.Options{Identity: "parent"}})

	child, exited, out := startHelper(t, "TestHelperSemaphoreHolder", semHolderEnv, fmt.Sprintf("%s pool %s", srv.Addr(), wd))
	eventually(t, 30*time.Second, "child holds the permit", func() bool {
		select {
		case <-exited:
			t.Fatalf("the helper exited: %s", out.String())
		default:
		}
		info, err := s.Inspect(ctx)
		return err == nil && len(info.Holders) == 1
	})
	// Two watchdog TTLs: the child's renewals must keep it.
	eventually(t, 30*time.Second, "child renews", func() bool {
		info, err := s.Inspect(ctx)
		if err != nil || len(info.Holders) != 1 {
			t.Fatalf("child's permit gone while it lives: %+v %v", info, err)
		}
		return info.Holders[0].Remaining > wd*2/3+50*time.Millisecond
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	killed := time.Now()
	p, err := s.TryLock(ctx, 30*time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	t.Logf("FIGURE killed semaphore holder: permit back %v after SIGKILL (watchdog TTL %v)", took, wd)
	if took > wd+2*time.Second {
		t.Errorf("permit came back %v after the kill, want within about the TTL %v", took, wd)
	}
	_ = p.Release(ctx)
}
