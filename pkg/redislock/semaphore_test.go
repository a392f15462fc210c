//go:build unix

package redislock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
)

func newSemaphore(t *testing.T, c redislock.Client, name string, permits int, opts redislock.SemaphoreOptions) *redislock.Semaphore {
	t.Helper()
	s, err := redislock.NewSemaphore(c, name, permits, opts)
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
			s := newSemaphore(t, c, "pool", 2, redislock.SemaphoreOptions{Fair: fair, Options: redislock.Options{Identity: "w"}})
			a, err := s.TryAcquire(ctx, 0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.TryAcquire(ctx, 0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if b.Fence() <= a.Fence() {
				t.Errorf("fences %d then %d, want growing", a.Fence(), b.Fence())
			}
			_, err = s.TryAcquire(ctx, 0, time.Minute)
			var held *redislock.HeldError
			if !errors.Is(err, redislock.ErrTimeout) || !errors.As(err, &held) || held.Holder.Identity != "w" {
				t.Fatalf("third TryAcquire: %v, want ErrTimeout with a HeldError", err)
			}
			_, err = s.TryAcquire(ctx, 30*time.Millisecond, time.Minute)
			if !errors.Is(err, redislock.ErrTimeout) || !errors.Is(err, redislock.ErrHeld) {
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
				p, err := s.TryAcquire(ctx, 20*time.Second, time.Minute)
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
			if err := a.Release(ctx); !errors.Is(err, redislock.ErrNotHeld) {
				t.Errorf("second Release: %v, want ErrNotHeld", err)
			}
			if err := a.Renew(ctx); !errors.Is(err, redislock.ErrNotHeld) {
				t.Errorf("Renew after Release: %v, want ErrNotHeld", err)
			}
			if err := b.Release(ctx); err != nil {
				t.Errorf("Release b: %v", err)
			}
		})
	}
}

var _ = context.Background
var _ = redis.Nil
