//go:build linux

package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/locks"
)

// TestLocksLateReply: the acquire of a holder behind a slow link (latency
// 1.5 TTL each way) takes effect in Redis, but its reply comes after the
// lease has expired there, and another holder, on a fast link, has taken
// the lock meanwhile. The late holder must not get a lock it could use:
// Lost must already be closed when TryLock (of either) returns, since
// the lease's validity counts from SentAt, not from the reply. The checker
// proves that the two sections do not overlap.
func TestLocksLateReply(t *testing.T) {
	ttl := *locksTTL
	kinds := []struct {
		name    string
		acquire func(w *lockWorld, c *lockClient) func(ctx context.Context) (holding, error)
		key     func(w *lockWorld) string
	}{
		{"mutex", func(w *lockWorld, c *lockClient) func(ctx context.Context) (holding, error) {
			l, err := locks.NewMutex(c.client, "late", w.lockOptions(c))
			if err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) (holding, error) {
				m, err := l.TryLock(ctx, 10*ttl, 0)
				if err != nil {
					return holding{}, err
				}
				return holding{fence: m.Fence(), sentAt: m.SentAt(), lost: m.Lost(), release: m.Release}, nil
			}
		}, func(w *lockWorld) string {
			return keyOf(w.lockOptions(w.clients[0]).Lease.Prefix, "late", "lease")
		}},
		{"semaphore", func(w *lockWorld, c *lockClient) func(ctx context.Context) (holding, error) {
			s, err := locks.NewSemaphore(c.client, "late", 1, w.lockOptions(c))
			if err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) (holding, error) {
				p, err := s.TryLock(ctx, 10*ttl, 0)
				if err != nil {
					return holding{}, err
				}
				return holding{fence: p.Fence(), sentAt: p.SentAt(), lost: p.Lost(), release: p.Release}, nil
			}
		}, func(w *lockWorld) string {
			return keyOf(w.lockOptions(w.clients[0]).Lease.Prefix, "late", "sem:permits")
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			w := newLockWorld(t, 2, ttl)
			ctx := t.Context()
			slow, fast := w.clients[0], w.clients[1]
			slowAcquire, fastAcquire := k.acquire(w, slow), k.acquire(w, fast)
			if err := slow.client.Ping(ctx).Err(); err != nil { // a connection before the latency
				t.Fatal(err)
			}
			slow.proxy.SetLatency(3 * ttl / 2)
			done := make(chan bool)
			go func() {
				m, err := slowAcquire(ctx)
				if err != nil {
					t.Errorf("slow holder: %v", err)
					done <- false
					return
				}
				used := w.section(ctx, slow.name, m, 2*ttl)
				w.release(ctx, m)
				done <- used
			}()
			// The slow acquire has taken effect once the key exists.
			key := k.key(w)
			for n, _ := w.admin.Exists(ctx, key).Result(); n == 0; n, _ = w.admin.Exists(ctx, key).Result() {
				time.Sleep(5 * time.Millisecond)
			}
			m, err := fastAcquire(ctx)
			if err != nil {
				t.Fatalf("fast holder: %v", err)
			}
			w.section(ctx, fast.name, m, 2*ttl)
			w.release(ctx, m)
			used := <-done
			terms, _, _, errs := w.e.hist.Snapshot()
			r := Check(terms, nil)
			r.RecordErrors = append(r.RecordErrors, errs...)
			t.Logf("%s: slow holder used its late lock: %v; %d sections, overlaps %d, fence errors %d, smallest margin %v",
				k.name, used, len(terms), len(r.Overlaps), len(r.FenceErrors), r.MinMargin)
			if !r.OK() {
				t.Errorf("sections violate the checker:\n%s", r.Problems())
			}
		})
	}
}
