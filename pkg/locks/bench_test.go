//go:build unix

package locks_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks"
)

// BenchmarkUncontended is one client's acquire+release on its own name,
// next to the floor of the bench step (SET NX PX, then a Lua
// compare-and-DEL): the cost of one operation on the client's side and in
// the scripts, for -cpuprofile. The client either bounds each call by its
// context (ContextTimeoutEnabled: calls run directly) or not (each call
// runs under a guard goroutine). `make bench` measures the same as
// throughput, side by side with the peers.
//
// redis-cmds/op is what Redis ran per acquire+release, commands inside
// the scripts included (INFO commandstats).
func BenchmarkUncontended(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	counted := func(b *testing.B, c *redis.Client, loop func()) {
		calls := func() int64 {
			m, err := redistest.CommandCalls(ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			for cmd, k := range m {
				if cmd != "info" {
					n += k
				}
			}
			return n
		}
		before := calls()
		loop()
		b.ReportMetric(float64(calls()-before)/float64(b.N), "redis-cmds/op")
	}
	for _, cc := range []struct {
		name string
		opts redis.Options
	}{
		{"guarded", redis.Options{}},
		{"direct", redis.Options{ContextTimeoutEnabled: true}},
	} {
		cc.opts.Addr = srv.Addr()
		c := redis.NewClient(&cc.opts)
		b.Cleanup(func() { _ = c.Close() })
		b.Run(cc.name+"/floor", func(b *testing.B) {
			counted(b, c, func() {
				for i := 0; b.Loop(); i++ {
					token := strconv.Itoa(i)
					if ok, err := c.SetNX(ctx, "floor", token, 30*time.Second).Result(); err != nil || !ok {
						b.Fatal(ok, err)
					}
					if n, err := benchFloorRelease.Run(ctx, c, []string{"floor"}, token).Int(); err != nil || n != 1 {
						b.Fatal(n, err)
					}
				}
			})
		})
		for _, tc := range []struct {
			name  string
			lease time.Duration
			fair  bool
		}{
			{"lease", 30 * time.Second, false},
			{"watchdog", 0, false},
			{"fair", 30 * time.Second, true},
		} {
			b.Run(cc.name+"/"+tc.name, func(b *testing.B) {
				l, err := lockcore.New(c, "bench-"+tc.name, lockcore.Options{Identity: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				counted(b, c, func() {
					for b.Loop() {
						var m *locks.Held
						if tc.fair {
							m, err = locks.MutexOf(l, true).TryLock(ctx, -1, tc.lease)
						} else {
							m, err = locks.MutexOf(l, false).TryLock(ctx, -1, tc.lease)
						}
						if err != nil {
							b.Fatal(err)
						}
						if err := m.Release(ctx); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

var benchFloorRelease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)
