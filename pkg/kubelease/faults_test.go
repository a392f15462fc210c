package kubelease_test

import (
	"errors"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/baton-dev/baton/pkg/kubelease"
	"github.com/baton-dev/baton/pkg/lease"
	"github.com/baton-dev/baton/test/chaos"
)

// viaProxy is a clientset whose every connection to the API server goes
// through a fault proxy.
func viaProxy(t *testing.T) (kubernetes.Interface, *chaos.Proxy) {
	t.Helper()
	cfg := apiServer(t)
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	p, err := chaos.NewProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	cfg.Host = u.String()
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit in the way
	return kubernetes.NewForConfigOrDie(cfg), p
}

func lockerVia(t *testing.T, cs kubeClient, ns string, opts kubelease.Options) *kubelease.Locker {
	t.Helper()
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 500 * time.Millisecond
	}
	l, err := kubelease.New(cs.CoordinationV1().Leases(ns), ns, leaseName, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Each write of a term fails in the middle (a black hole): the caller is
// told the outcome is unknown (not lost), the store keeps the last write,
// and the same call works once the path heals.
func TestWritesThroughABlackHole(t *testing.T) {
	cs, ns := namespace(t)
	released(t, cs, ns)
	pcs, p := viaProxy(t)
	l := lockerVia(t, pcs, ns, kubelease.Options{})

	p.SetBlackhole(true)
	if _, err := l.Acquire(ctxFor(t, 3*time.Second), "a", 5*time.Second, nil); err == nil {
		t.Fatal("Acquire through a black hole succeeded")
	}
	if got := getLease(t, cs, ns); holderOf(got) != "" {
		t.Fatalf("a failed Acquire left holder %q", holderOf(got))
	}
	p.SetBlackhole(false)
	var le lease.Lease
	if err := retry(t, func() (err error) {
		le, err = l.Acquire(ctxFor(t, 10*time.Second), "a", 5*time.Second, nil)
		return err
	}); err != nil {
		t.Fatalf("Acquire after the black hole: %v", err)
	}

	p.SetBlackhole(true)
	if err := le.Renew(ctxFor(t, time.Second)); err == nil || errors.Is(err, lease.ErrLost) {
		t.Fatalf("Renew through a black hole = %v, want an unknown outcome", err)
	}
	p.SetBlackhole(false)
	if err := retry(t, func() error { return le.Renew(ctxFor(t, 10*time.Second)) }); err != nil {
		t.Fatalf("Renew after the black hole: %v", err)
	}

	p.SetBlackhole(true)
	if err := le.Release(ctxFor(t, time.Second)); err == nil || errors.Is(err, kubelease.ErrNotHeld) {
		t.Fatalf("Release through a black hole = %v, want an unknown outcome", err)
	}
	if got := getLease(t, cs, ns); holderOf(got) != "a" {
		t.Fatalf("after a failed release the holder is %q, want a", holderOf(got))
	}
	p.SetBlackhole(false)
	if err := retry(t, func() error { return le.Release(ctxFor(t, 10*time.Second)) }); err != nil {
		t.Fatalf("Release after the black hole: %v", err)
	}
	if got := getLease(t, cs, ns); holderOf(got) != "" {
		t.Fatalf("released, the holder is %q", holderOf(got))
	}
}

// A follower whose watch connection is killed, then slowed, opens it again
// and still takes over at the release: its clock never moves, so only the
// watch can tell it.
func TestFollowerSurvivesAKilledAndSlowWatch(t *testing.T) {
	cs, ns := namespace(t)
	released(t, cs, ns)
	a := newLocker(t, ns, nil)
	pcs, p := viaProxy(t)
	var errs atomic.Int64
	b := lockerVia(t, pcs, ns, kubelease.Options{Clock: testingclock.NewFakeClock(time.Now()), RewatchFirst: 10 * time.Millisecond,
		OnError: func(string, error) { errs.Add(1) }})
	ctx := ctxFor(t, time.Minute)
	la, err := a.Acquire(ctx, "a", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := startAcquire(ctx, b, "b", 10*time.Second)
	w.waitSeen(t)
	for range 3 {
		p.CloseAll()
		if err := la.Renew(ctx); err != nil {
			t.Fatal(err)
		}
		if h := w.waitSeen(t); h.Identity != "a" {
			t.Fatalf("b saw %+v", h)
		}
	}
	p.SetLatency(200 * time.Millisecond)
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if lb := w.wait(t); lb.Fence() <= la.Fence() {
		t.Fatalf("fence %d after %d", lb.Fence(), la.Fence())
	}
	t.Logf("watch errors reported: %d", errs.Load())
}

// retry calls f up to three times, as a caller does after a failure: the
// first call after a heal may meet a connection the heal closed.
func retry(t *testing.T, f func() error) error {
	t.Helper()
	var err error
	for i := range 3 {
		if err = f(); err == nil {
			return nil
		}
		t.Logf("try %d: %v", i+1, err)
	}
	return err
}
