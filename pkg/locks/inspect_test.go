//go:build unix

package locks_test

import (
	"errors"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

func TestInspect(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l, err := lockcore.New(c, "shelf", lockcore.Options{Identity: "web-1"})
	if err != nil {
		t.Fatal(err)
	}

	info, err := l.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info != (lockcore.Info{}) {
		t.Errorf("Inspect of a fresh lock = %+v, want the zero Info", info)
	}

	m, err := locks.MutexOf(l, true).TryLock(ctx, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	info, err = l.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Held || info.Holder != "web-1" || info.Fence != m.Fence() || info.Remaining <= 50*time.Second || info.Remaining > time.Minute || info.Queue != 0 {
		t.Errorf("Inspect while held = %+v, want web-1 at fence %d for about a minute", info, m.Fence())
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	info, err = l.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Held || info.Holder != "" || info.Fence != m.Fence() || info.Remaining != 0 {
		t.Errorf("Inspect after release = %+v, want free with the last fence %d", info, m.Fence())
	}

	t.Run("writes nothing", func(t *testing.T) {
		calls := callsDuring(t, c, func() {
			if _, err := l.Inspect(ctx); err != nil {
				t.Fatal(err)
			}
		})
		for _, cmd := range []string{"set", "hset", "del", "zadd", "zrem", "publish", "pexpire"} {
			if calls[cmd] != 0 {
				t.Errorf("Inspect ran %s", cmd)
			}
		}
	})

	t.Run("foreign value", func(t *testing.T) {
		queue, _, _ := l.QueueKeys()
		c.Set(ctx, queue, "not baton's", 0)
		t.Cleanup(func() { c.Del(ctx, queue) })
		_, err := l.Inspect(ctx)
		var fe *lockcore.ForeignError
		if !errors.As(err, &fe) || fe.Key != queue {
			t.Errorf("Inspect: %v, want ForeignError at %s", err, queue)
		}
	})
}
