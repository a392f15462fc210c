package kubelease_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/baton-dev/baton/pkg/kubelease"
	"github.com/baton-dev/baton/pkg/lease"
)

func TestAcquireWritesTheRecordAsClientGo(t *testing.T) {
	cs, ns := namespace(t)
	clk := testingclock.NewFakeClock(time.Now())
	l := newLocker(t, ns, clk)
	w := startAcquire(ctxFor(t, time.Minute), l, "a", 5*time.Second)
	// Absent, the Lease may have been deleted under a holder: the first
	// Acquire waits one lease from its sight of the absence.
	if h := w.waitSeen(t); h.Identity != "" || h.Remaining != 5*time.Second {
		t.Fatalf("absent Lease seen as %+v, want a quarantine of 5s", h)
	}
	before := time.Now()
	clk.Step(5 * time.Second)
	le := w.wait(t)
	got := getLease(t, cs, ns)
	s := got.Spec
	if holderOf(got) != "a" || *s.LeaseDurationSeconds != 5 || *s.LeaseTransitions != 0 ||
		s.AcquireTime == nil || s.RenewTime == nil || s.AcquireTime.Before(&metav1.MicroTime{Time: before.Add(-time.Second)}) {
		t.Fatalf("record: %+v", s)
	}
	fence, _ := strconv.ParseUint(got.Annotations[kubelease.FenceAnnotation], 10, 64)
	if fence != le.Fence() || fence < uint64(before.UnixMicro()) {
		t.Fatalf("fence annotation %q, lease fence %d, want >= %d", got.Annotations[kubelease.FenceAnnotation], le.Fence(), before.UnixMicro())
	}

	if err := le.Renew(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	renewed := getLease(t, cs, ns)
	if !renewed.Spec.AcquireTime.Equal(s.AcquireTime) || !s.RenewTime.Before(renewed.Spec.RenewTime) {
		t.Fatalf("renew: acquire %v -> %v, renew %v -> %v", s.AcquireTime, renewed.Spec.AcquireTime, s.RenewTime, renewed.Spec.RenewTime)
	}

	if err := le.Release(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	rel := getLease(t, cs, ns)
	if holderOf(rel) != "" || *rel.Spec.LeaseDurationSeconds != 1 || *rel.Spec.LeaseTransitions != 0 ||
		rel.Annotations[kubelease.FenceAnnotation] != got.Annotations[kubelease.FenceAnnotation] {
		t.Fatalf("released: %+v %v", rel.Spec, rel.Annotations)
	}

	// The next term counts a transition and a higher fence.
	le2, err := l.Acquire(ctxFor(t, 30*time.Second), "b", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := getLease(t, cs, ns)
	if holderOf(next) != "b" || *next.Spec.LeaseTransitions != 1 || le2.Fence() <= le.Fence() {
		t.Fatalf("second term: %+v fence %d after %d", next.Spec, le2.Fence(), le.Fence())
	}
}

func TestFollowerTakesOverAtRelease(t *testing.T) {
	cs, ns := namespace(t)
	clk := testingclock.NewFakeClock(time.Now()) // never stepped: only the release can free the lease
	released(t, cs, ns)
	a := newLocker(t, ns, clk)
	b := newLocker(t, ns, clk)
	ctx := ctxFor(t, time.Minute)
	la, err := a.Acquire(ctx, "a", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := startAcquire(ctx, b, "b", 30*time.Second)
	if h := w.waitSeen(t); h.Identity != "a" || h.Fence != la.Fence() || h.Remaining <= 0 {
		t.Fatalf("b saw %+v, want a with fence %d", h, la.Fence())
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb := w.wait(t)
	if lb.Fence() <= la.Fence() || holderOf(getLease(t, cs, ns)) != "b" {
		t.Fatalf("b's fence %d after a's %d", lb.Fence(), la.Fence())
	}
}

func TestFollowerTakesOverWhenTheObservedRecordExpires(t *testing.T) {
	cs, ns := namespace(t)
	start := time.Now()
	clk := testingclock.NewFakeClock(start)
	released(t, cs, ns)
	a := newLocker(t, ns, nil)
	b := newLocker(t, ns, clk)
	ctx := ctxFor(t, time.Minute)
	la, err := a.Acquire(ctx, "a", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := startAcquire(ctx, b, "b", 10*time.Second)
	w.waitSeen(t)

	// A renewal restarts b's count: at the first record's expiry the
	// renewed one is still valid.
	clk.Step(6 * time.Second)
	if err := la.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if h := w.waitSeen(t); h.Remaining != 10*time.Second {
		t.Fatalf("after the renewal b saw %v remaining, want 10s from the observation", h.Remaining)
	}
	// 11 s after the first record: b's only timer is the renewed
	// record's, at 16 s.
	clk.Step(5 * time.Second)
	clk.Step(5 * time.Second)
	lb := w.wait(t)
	if lb.Fence() <= la.Fence() {
		t.Fatalf("fence %d after %d", lb.Fence(), la.Fence())
	}
	if err := la.Renew(ctx); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("a's renewal after the takeover: %v, want ErrLost", err)
	}
	if err := la.Release(ctx); !errors.Is(err, kubelease.ErrNotHeld) {
		t.Fatalf("a's release after the takeover: %v, want ErrNotHeld", err)
	}
	if holderOf(getLease(t, cs, ns)) != "b" {
		t.Fatal("a's release wrote over b's term")
	}
}

// client-go counts a transition, and sets a new acquireTime, only when the
// holder it takes over from is someone else: a replica that comes back
// under its own identity (a StatefulSet's pod) to its own expired term
// keeps both, and so does baton on the same Lease.
func TestTransitionsCountedAsClientGoCountsThem(t *testing.T) {
	for _, tc := range []struct {
		name, holder    string
		wantTransitions int32
		keepAcquire     bool
	}{
		{"another holder's expired term", "b", 4, false},
		{"its own identity's expired term", "a", 3, true},
		{"a released Lease", "", 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ns := namespace(t)
			holder, secs, transitions := tc.holder, int32(2), int32(3)
			old := metav1.NewMicroTime(time.Now().Add(-time.Hour).Truncate(time.Second))
			_, err := cs.CoordinationV1().Leases(ns).Create(ctxFor(t, 10*time.Second), &coordv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: leaseName, Namespace: ns},
				Spec: coordv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, LeaseTransitions: &transitions,
					AcquireTime: &old, RenewTime: &old},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			clk := testingclock.NewFakeClock(time.Now())
			w := startAcquire(ctxFor(t, time.Minute), newLocker(t, ns, clk), "a", 2*time.Second)
			if tc.holder != "" {
				w.waitSeen(t)
				clk.Step(2 * time.Second)
			}
			w.wait(t)
			s := getLease(t, cs, ns).Spec
			if *s.LeaseTransitions != tc.wantTransitions || s.AcquireTime.Equal(&old) != tc.keepAcquire {
				t.Fatalf("took over from %q: transitions %d, acquireTime %v (was %v); want %d, kept %v",
					tc.holder, *s.LeaseTransitions, s.AcquireTime, old, tc.wantTransitions, tc.keepAcquire)
			}
		})
	}
}
