//go:build linux

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/pkg/redislock"
)

// lockClient is one application server of the lock tests: its own go-redis
// client, through its own fault proxy, so that a fault hits it alone.
type lockClient struct {
	name   string
	proxy  *Proxy
	client *redis.Client
}

// lockStats counts what the lock tests' holders saw.
type lockStats struct {
	acquired   atomic.Int64 // sections recorded
	lost       atomic.Int64 // sections ended by Lost
	late       atomic.Int64 // acquired but already lost (or past 2/3 of a lease time) on return: not used
	notHeld    atomic.Int64 // Unlock/Release found the lock already gone
	timeouts   atomic.Int64 // TryLock/TryAcquire waits that ran out
	acqErrors  atomic.Int64 // other acquire errors (transport, attempt timeout)
	unlockErrs atomic.Int64 // other Unlock/Release errors
}

func (s *lockStats) String() string {
	return fmt.Sprintf("acquisitions %d, lost %d, unusable on return %d, already gone at unlock %d, wait timeouts %d, acquire errors %d, unlock errors %d",
		s.acquired.Load(), s.lost.Load(), s.late.Load(), s.notHeld.Load(), s.timeouts.Load(), s.acqErrors.Load(), s.unlockErrs.Load())
}

// lockWorld is a lock test's world: an env without sidecars (its Redis and
// history, for runMix and the checker) and in-process clients.
type lockWorld struct {
	e       *env
	ttl     time.Duration
	clients []*lockClient
	admin   *redis.Client
	stats   lockStats
}

// monoNow is the lock's Options.Now: CLOCK_MONOTONIC, the history's clock,
// so that Lease.SentAt and the recorded sections lie on one time line.
func monoNow() time.Time { return time.Unix(0, clocks.MonotonicNS()) }

// newLockWorld starts a Redis and n clients, each behind its own proxy.
// After each fault of runMix it waits for a new acquisition.
func newLockWorld(t *testing.T, n int, ttl time.Duration) *lockWorld {
	t.Helper()
	e := newEnvNoNodes(t, ttl)
	w := &lockWorld{e: e, ttl: ttl, admin: e.redisClient()}
	for i := range n {
		p, err := NewProxy(e.addr)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(&redis.Options{Addr: p.Addr()})
		t.Cleanup(func() {
			_ = c.Close()
			_ = p.Close()
		})
		w.clients = append(w.clients, &lockClient{name: "c" + strconv.Itoa(i+1), proxy: p, client: c})
	}
	e.settle = w.awaitAcquisition
	return w
}

// lockOptions are every client's lock options: TTL ttl under the watchdog,
// a short queue heartbeat, the history's clock, other defaults.
func (w *lockWorld) lockOptions(c *lockClient) locks.Options {
	return locks.Options{
		Lease:           redislock.Options{Prefix: "chaos-locks", Now: monoNow},
		Identity:        c.name,
		WatchdogTimeout: w.ttl,
		QueueHeartbeat:  w.ttl / 5,
	}
}

// awaitAcquisition waits for a section to start after the call: progress
// after a fault.
func (w *lockWorld) awaitAcquisition() error {
	h := w.e.hist
	before := h.Terms()
	bound := 3*w.ttl + 2*slack
	deadline := time.After(bound)
	for {
		changed := h.Changed()
		if h.Terms() > before {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("no acquisition within %v", bound)
		}
	}
}

// holding is one acquired lock or permit, as a holder's loop sees it.
type holding struct {
	fence  uint64
	sentAt time.Time
	lost   <-chan struct{}
	// leased: taken with a lease time, without watchdog; the holder must
	// stop a third of the TTL before the lease can expire.
	leased  bool
	release func(context.Context) error
}

// holder runs one client's loop until ctx ends: acquire, record the
// critical section in the history, release. A section lasts from the
// acquire's return to the earlier of its planned end and Lost (the
// watchdog's promise: a third of the TTL before the lease can expire). A
// section under a lease time ends by SentAt + 2/3 TTL, and is recorded as
// ending at the latest at SentAt + TTL, before which the lease cannot
// expire in Redis; a reply that comes after SentAt + 2/3 TTL is not used.
func (w *lockWorld) holder(ctx context.Context, c *lockClient, seed uint64, maxHold time.Duration,
	acquire func(ctx context.Context) (holding, error)) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	for ctx.Err() == nil {
		m, err := acquire(ctx)
		switch {
		case ctx.Err() != nil:
			if err == nil {
				_ = m.release(context.WithoutCancel(ctx))
			}
			return
		case errors.Is(err, locks.ErrTimeout):
			w.stats.timeouts.Add(1)
			continue
		case err != nil:
			w.stats.acqErrors.Add(1)
			sleepCtx(ctx, w.ttl/10)
			continue
		}
		w.section(ctx, c.name, m, time.Duration(rng.Int64N(int64(maxHold)+1)))
		w.release(ctx, m)
		sleepCtx(ctx, time.Duration(rng.Int64N(int64(w.ttl/10)+1)))
	}
}

// section records one critical section of m in the history, as an
// application would run it: not at all when m is already lost (or, under a
// lease time, past SentAt + 2/3 TTL) on return from the acquire, else from
// that return until hold has passed, Lost is closed, SentAt + 2/3 TTL
// under a lease time, or ctx ends. Under a lease time the recorded end is
// at most SentAt + TTL. It reports whether it recorded a section.
func (w *lockWorld) section(ctx context.Context, name string, m holding, hold time.Duration) bool {
	h := w.e.hist
	start := clocks.MonotonicNS()
	select {
	case <-m.lost:
		w.stats.late.Add(1)
		return false
	default:
	}
	var capEnd int64
	if m.leased {
		stopAt := m.sentAt.Add(w.ttl * 2 / 3).UnixNano()
		capEnd = m.sentAt.Add(w.ttl).UnixNano()
		if start >= stopAt {
			w.stats.late.Add(1)
			return false
		}
		hold = min(hold, time.Duration(stopAt-start))
	}
	h.Started(name, m.fence, start)
	w.stats.acquired.Add(1)
	timer := time.NewTimer(hold)
	defer timer.Stop()
	reason := "unlock"
	select {
	case <-m.lost:
		reason = "lost"
		w.stats.lost.Add(1)
	case <-timer.C:
	case <-ctx.Done():
	}
	end := clocks.MonotonicNS()
	if capEnd != 0 {
		end = min(end, capEnd)
	}
	h.Stopped(name, m.fence, end, reason)
	return true
}

func (w *lockWorld) release(ctx context.Context, m holding) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch err := m.release(rctx); {
	case errors.Is(err, locks.ErrNotHeld):
		w.stats.notHeld.Add(1)
	case err != nil:
		w.stats.unlockErrs.Add(1)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// run starts one holder per client (acquire makes its acquire function)
// and returns a stop function that ends them and waits.
func (w *lockWorld) run(ctx context.Context, maxHold time.Duration, acquire func(i int, c *lockClient) func(context.Context) (holding, error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, c := range w.clients {
		f := acquire(i, c)
		seed := *chaosSeed*1000 + uint64(i)
		wg.Go(func() { w.holder(ctx, c, seed, maxHold, f) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// lockFaults are the faults of the mix that hit clients: in one client's
// proxy latency, a partition (blackhole), one stalled connection, all its
// connections cut and a silent pub/sub connection; for all of them, killed
// pub/sub connections and CLIENT PAUSE. Redis restarts and FLUSHALL are
// left out: they lose the lease, and no Redis lock can keep a holder that
// Redis forgot out of a new one's section (the election's term record does
// that for the sidecar, see TestChaos).
func lockFaults(w *lockWorld) []weightedFault {
	ttl := w.ttl
	between := func(rng *rand.Rand, lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	pick := func(rng *rand.Rand) *lockClient { return w.clients[rng.IntN(len(w.clients))] }
	h := w.e.hist
	on := func(kind string, bound time.Duration, apply func(p *Proxy), heal func(p *Proxy), lo, hi time.Duration) func(*env, *rand.Rand, redisDoer) error {
		return func(_ *env, rng *rand.Rand, _ redisDoer) error {
			p := pick(rng).proxy
			h.Fault(kind)
			apply(p)
			time.Sleep(between(rng, lo, hi))
			heal(p)
			h.Healed(kind, bound)
			return nil
		}
	}
	return []weightedFault{
		{"latency short", 3, on("latency short", ttl+ttl/10+slack,
			func(p *Proxy) { p.SetLatency(ttl / 20) }, func(p *Proxy) { p.SetLatency(0) }, ttl, 2*ttl)},
		{"latency long", 3, on("latency long", 3*ttl+slack,
			func(p *Proxy) { p.SetLatency(ttl) }, func(p *Proxy) { p.SetLatency(0) }, ttl, 2*ttl)},
		{"partition short", 3, on("partition short", ttl+slack,
			func(p *Proxy) { p.SetBlackhole(true) }, func(p *Proxy) { p.SetBlackhole(false) }, ttl/10, ttl/4)},
		{"partition long", 3, on("partition long", ttl+slack,
			func(p *Proxy) { p.SetBlackhole(true) }, func(p *Proxy) { p.SetBlackhole(false) }, ttl, 3*ttl)},
		{"stall one connection", 3, on("stall one connection", ttl+slack,
			func(p *Proxy) { p.StallActive() }, func(p *Proxy) { p.Unstall() }, ttl/3, ttl)},
		{"silent subscribe", 3, on("silent subscribe", ttl+slack,
			func(p *Proxy) { p.SetSilentAfterSubscribe(true); p.CloseSubscribed() },
			func(p *Proxy) { p.SetSilentAfterSubscribe(false) }, ttl, 3*ttl)},
		{"connections cut", 3, on("connections cut", ttl+slack,
			func(p *Proxy) { p.CloseAll() }, func(*Proxy) {}, 0, 0)},
		{"pubsub kill", 2, func(_ *env, _ *rand.Rand, c redisDoer) error {
			h.Fault("pubsub kill")
			if err := c.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
				return err
			}
			h.Healed("pubsub kill", ttl+slack)
			return nil
		}},
		{"client pause", 2, func(_ *env, rng *rand.Rand, c redisDoer) error {
			d := between(rng, ttl, 3*ttl)
			h.Fault("client pause")
			if err := c.Do(context.Background(), "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err(); err != nil {
				return err
			}
			time.Sleep(d)
			h.Healed("client pause", 2*ttl+slack)
			return nil
		}},
	}
}
