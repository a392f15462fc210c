//go:build unix

package election_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/test/chaos"
)

// renewals is a Recorder that keeps the renew attempts that succeeded.
type renewals struct {
	mu  sync.Mutex
	ok  []time.Duration
	any chan struct{} // closed at the first success
}

func newRenewals() *renewals { return &renewals{any: make(chan struct{})} }

func (r *renewals) Transition(bool, uint64)     {}
func (r *renewals) AcquireWaited(time.Duration) {}
func (r *renewals) Error(string, error)         {}
func (r *renewals) Renewed(d time.Duration, err error) {
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ok) == 0 {
		close(r.any)
	}
	r.ok = append(r.ok, d)
}

// since returns the successful renewals from the n-th on.
func (r *renewals) since(n int) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.ok[min(n, len(r.ok)):]...)
}

// TestSlowRedisCostsNoTerm: a real redis-server behind a loopback proxy
// that delays every byte by 300ms each way, so a round trip takes about
// 600ms, below the 1s between the renew interval and the renew deadline of
// a 3s TTL. The leader, wired as the sidecar wires it (its client's
// timeouts, GuardCalls), keeps one term for 12s. Each renew attempt used to
// be cut at 2*RetryPeriod (500ms): it lost a term every 2.5s or so.
func TestSlowRedisCostsNoTerm(t *testing.T) {
	const (
		ttl     = 3 * time.Second
		oneWay  = 300 * time.Millisecond
		observe = 12 * time.Second
	)
	srv := redistest.Start(t)
	proxy, err := chaos.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	cfg := election.Config{LeaseTTL: ttl}
	// The sidecar's election client (cmd/sidecar/redis.go): socket
	// timeouts of min(5s, renew interval), one retry, 4 connections. The
	// renew interval is the default TTL/3, as with --lease-ttl 3s alone.
	timeout := min(5*time.Second, ttl/3)
	client := redis.NewClient(&redis.Options{
		Addr: proxy.Addr(), DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		ContextTimeoutEnabled: true, MaxRetries: 1, PoolSize: 4,
	})
	t.Cleanup(func() { _ = client.Close() })
	lock, err := redislock.New(client, "job", redislock.Options{GuardCalls: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRenewals()
	stops := make(chan election.StepDownReason, 16)
	cfg.Locker, cfg.Name, cfg.Identity, cfg.Recorder = redislock.NewLocker(lock), "job", "a", rec
	cfg.OnStoppedLeading = func(_ election.Term, r election.StepDownReason) { stops <- r }
	e, err := election.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// Lead, and renew once at full speed: the scripts are then loaded, as
	// on any Redis that has seen a leader.
	first := waitStatus(t, e, "a leads", isLeader)
	select {
	case <-rec.any:
	case <-time.After(guard):
		t.Fatal("no renewal succeeded without latency")
	}
	proxy.SetLatency(oneWay)
	from := len(rec.since(0))
	rtt := measureRTT(t, proxy.Addr())
	t.Logf("round trip through the proxy: %v (renew deadline - renew interval: %v)", rtt,
		e.Config().RenewDeadline-e.Config().RenewInterval)

	// Watch for the whole window, not for the first step-down only, to
	// count the terms lost.
	lost := 0
	window := time.After(observe)
watch:
	for {
		select {
		case r := <-stops:
			lost++
			t.Logf("step-down %d: %s", lost, r)
		case <-window:
			break watch
		}
	}
	slow := rec.since(from)
	t.Logf("FIGURE: %d terms lost in %v at a %v round trip, TTL %v; %d renewals succeeded", lost, observe, rtt, ttl, len(slow))
	s := e.Status()
	if lost != 0 || !s.Leader || s.Fence != first.Fence {
		t.Fatalf("%d terms lost in %v at a %v round trip; status %+v, first fence %d", lost, observe, rtt, s, first.Fence)
	}
	// A renewal every second, each through the delay.
	if len(slow) < int(observe/e.Config().RenewInterval)-2 {
		t.Errorf("%d renewals succeeded in %v, want one per renew interval", len(slow), observe)
	}
	for _, d := range slow {
		if d < 2*oneWay {
			t.Fatalf("a renewal took %v: the latency did not apply (renewals %v)", d, slow)
		}
	}
}

// measureRTT times a PING through the proxy on a connection of its own.
func measureRTT(t *testing.T, addr string) time.Duration {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: guard, DialTimeout: guard})
	defer func() { _ = c.Close() }()
	if err := c.Ping(t.Context()).Err(); err != nil { // dial and handshake
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}
