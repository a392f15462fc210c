package kubelease_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// clientGoElector runs an unmodified client-go elector on the Lease.
type clientGoElector struct {
	started, stopped chan struct{}
	leaders          chan string
	done             chan struct{}
	cancel           context.CancelFunc
}

func runClientGo(t *testing.T, cs kubeClient, ns, identity string) *clientGoElector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &clientGoElector{started: make(chan struct{}), stopped: make(chan struct{}), leaders: make(chan string, 100),
		done: make(chan struct{}), cancel: cancel}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: leaseName},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 200 * time.Millisecond,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(e.started) },
			OnStoppedLeading: func() { close(e.stopped) },
			OnNewLeader:      func(id string) { e.leaders <- id },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(e.done)
		le.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-e.done
	})
	return e
}

// waitLeader waits until the elector names want as the leader.
func (e *clientGoElector) waitLeader(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case id := <-e.leaders:
			if id == want {
				return
			}
		case <-deadline:
			t.Fatalf("client-go never named %q as the leader", want)
		}
	}
}

func TestClientGoAndBatonExcludeEachOther(t *testing.T) {
	cs, ns := namespace(t)
	released(t, cs, ns)
	baton := newLocker(t, ns, nil)
	ctx := ctxFor(t, 2*time.Minute)

	// baton leads; client-go names it and waits.
	lb, err := baton.Acquire(ctx, "baton-0", 4*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	cg := runClientGo(t, cs, ns, "client-go-0")
	cg.waitLeader(t, "baton-0")
	for range 3 { // several of client-go's tries, while baton renews
		if err := lb.Renew(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-cg.started:
			t.Fatal("client-go started leading while baton held the Lease")
		case <-time.After(time.Second):
		}
	}

	// baton releases; client-go takes over at its next try.
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cg.started:
	case <-time.After(30 * time.Second):
		t.Fatal("client-go did not take the released Lease")
	}

	// client-go leads; baton names it and waits, until client-go releases
	// on cancel, when baton takes over at once.
	w := startAcquire(ctx, baton, "baton-0", 4*time.Second)
	if h := w.waitSeen(t); h.Identity != "client-go-0" {
		t.Fatalf("baton saw %q as the holder, want client-go-0", h.Identity)
	}
	if w.returned() {
		t.Fatal("baton acquired while client-go led")
	}
	cg.cancel()
	<-cg.done
	lb2 := w.wait(t)
	if lb2.Fence() <= lb.Fence() {
		t.Fatalf("fence %d after %d", lb2.Fence(), lb.Fence())
	}
	if got := getLease(t, cs, ns); holderOf(got) != "baton-0" || *got.Spec.LeaseTransitions != 3 {
		t.Fatalf("after the round trip: holder %q, transitions %d, want baton-0 and 3", holderOf(got), *got.Spec.LeaseTransitions)
	}
}

// client-go compares records at whole-second precision: each renewal must
// change the record as it sees it, or its followers count the lease from
// an earlier renewal than the holder does. Three renewals in a row, faster
// than a second without the wait, give four records that client-go's own
// LeaseLock tells apart.
func TestRenewalsVisibleToClientGo(t *testing.T) {
	cs, ns := namespace(t)
	released(t, cs, ns)
	ctx := ctxFor(t, time.Minute)
	held, err := newLocker(t, ns, nil).Acquire(ctx, "a", 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	observer := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: leaseName},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: "observer"},
	}
	seen := map[string]int{}
	for i := range 4 {
		if i > 0 {
			if err := held.Renew(ctx); err != nil {
				t.Fatal(err)
			}
		}
		_, raw, err := observer.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if j, dup := seen[string(raw)]; dup {
			t.Fatalf("write %d gives client-go the same record as write %d: %s", i, j, raw)
		}
		seen[string(raw)] = i
	}
}
