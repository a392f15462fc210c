package kubelease_test

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/kubelease"
	"github.com/baton-dev/baton/pkg/lease"
)

func TestBadArguments(t *testing.T) {
	cs := fake.NewClientset() // no call is made: the arguments are refused first
	for _, tc := range []struct {
		ns, name string
		opts     kubelease.Options
		field    string
	}{
		{"", "x", kubelease.Options{}, "Namespace"},
		{"Default", "x", kubelease.Options{}, "Namespace"},
		{"default", "", kubelease.Options{}, "Name"},
		{"default", "a_b", kubelease.Options{}, "Name"},
		{"default", "x", kubelease.Options{CallTimeout: -1}, "CallTimeout"},
		{"default", "x", kubelease.Options{RewatchFirst: -1}, "RewatchFirst"},
	} {
		_, err := kubelease.New(cs.CoordinationV1().Leases(tc.ns), tc.ns, tc.name, tc.opts)
		var fe *field.Error
		if !errors.Is(err, kubelease.ErrInvalid) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("New(%q, %q, %+v) = %v, want an error naming %s", tc.ns, tc.name, tc.opts, err, tc.field)
		}
	}
	l, err := kubelease.New(cs.CoordinationV1().Leases("default"), "default", "x", kubelease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		identity string
		ttl      time.Duration
		field    string
	}{
		{"", 5 * time.Second, "Identity"},
		{"a", time.Second, "LeaseTTL"},
		{"a", 2500 * time.Millisecond, "LeaseTTL"},
		{"a", 0, "LeaseTTL"},
	} {
		_, err := l.Acquire(ctxFor(t, time.Second), tc.identity, tc.ttl, nil)
		var fe *field.Error
		if !errors.Is(err, kubelease.ErrInvalid) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Acquire(%q, %v) = %v, want an error naming %s", tc.identity, tc.ttl, err, tc.field)
		}
	}
	if len(cs.Actions()) != 0 {
		t.Fatalf("bad arguments reached the API: %v", cs.Actions())
	}
}

func TestRenewAfterAnotherWriterOfTheSameTerm(t *testing.T) {
	cs, ns := namespace(t)
	released(t, cs, ns)
	l := newLocker(t, ns, nil)
	ctx := ctxFor(t, time.Minute)
	le, err := l.Acquire(ctx, "a", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A label written by someone else changes the resourceVersion: the
	// renewal conflicts, reads the Lease again, finds it still this
	// term's, and writes again, keeping the label.
	cur := getLease(t, cs, ns)
	cur.Labels = map[string]string{"team": "reports"}
	if _, err := cs.CoordinationV1().Leases(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := le.Renew(ctx); err != nil {
		t.Fatalf("renew after a foreign label: %v", err)
	}
	if got := getLease(t, cs, ns); got.Labels["team"] != "reports" || holderOf(got) != "a" {
		t.Fatalf("after the renewal: %v %q", got.Labels, holderOf(got))
	}
}

func TestHandWrittenHolderOrDeletionLosesTheTerm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, cs kubeClient, ns string)
	}{
		{"another holder", func(t *testing.T, cs kubeClient, ns string) {
			cur := getLease(t, cs, ns)
			other := "intruder"
			cur.Spec.HolderIdentity = &other
			if _, err := cs.CoordinationV1().Leases(ns).Update(ctxFor(t, 10*time.Second), cur, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(t *testing.T, cs kubeClient, ns string) {
			if err := cs.CoordinationV1().Leases(ns).Delete(ctxFor(t, 10*time.Second), leaseName, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ns := namespace(t)
			released(t, cs, ns)
			l := newLocker(t, ns, nil)
			ctx := ctxFor(t, time.Minute)
			le, err := l.Acquire(ctx, "a", 5*time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, cs, ns)
			if err := le.Renew(ctx); !errors.Is(err, lease.ErrLost) {
				t.Fatalf("renew: %v, want ErrLost", err)
			}
			if err := le.Release(ctx); !errors.Is(err, kubelease.ErrNotHeld) {
				t.Fatalf("release: %v, want ErrNotHeld", err)
			}
		})
	}
}

// A Lease deleted under its holder: a follower that sees it go waits one
// lease before it creates it, since the holder learns of the deletion only
// at its next renewal.
func TestDeletedLeaseIsQuarantined(t *testing.T) {
	cs, ns := namespace(t)
	released(t, cs, ns)
	clk := testingclock.NewFakeClock(time.Now())
	a := newLocker(t, ns, nil)
	b := newLocker(t, ns, clk)
	ctx := ctxFor(t, time.Minute)
	la, err := a.Acquire(ctx, "a", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := startAcquire(ctx, b, "b", 4*time.Second)
	w.waitSeen(t)
	if err := cs.CoordinationV1().Leases(ns).Delete(ctx, leaseName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The longer of the two leases, a's 10 s, from b's sight of the
	// deletion.
	if h := w.waitSeen(t); h.Identity != "" || h.Remaining != 10*time.Second {
		t.Fatalf("after the deletion b saw %+v, want a quarantine of 10s", h)
	}
	clk.Step(10 * time.Second)
	lb := w.wait(t)
	if lb.Fence() <= la.Fence() {
		t.Fatalf("fence %d after %d: a recreated Lease must keep the fences growing", lb.Fence(), la.Fence())
	}
}

func TestForeignFenceIsNotOverwritten(t *testing.T) {
	cs, ns := namespace(t)
	released(t, cs, ns)
	cur := getLease(t, cs, ns)
	cur.Annotations = map[string]string{kubelease.FenceAnnotation: "not-a-number"}
	if _, err := cs.CoordinationV1().Leases(ns).Update(ctxFor(t, 10*time.Second), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l := newLocker(t, ns, nil)
	if _, err := l.Acquire(ctxFor(t, 30*time.Second), "a", 5*time.Second, nil); !errors.Is(err, kubelease.ErrForeign) {
		t.Fatalf("Acquire = %v, want ErrForeign", err)
	}
	if got := getLease(t, cs, ns); got.Annotations[kubelease.FenceAnnotation] != "not-a-number" || holderOf(got) != "" {
		t.Fatalf("the foreign value was overwritten: %v %q", got.Annotations, holderOf(got))
	}
}

// A fence at the top of its range cannot grow: Acquire refuses it, as a
// foreign value, instead of wrapping the token around to 0 or beyond what
// the Redis backend's fences (int64) can reach.
func TestFenceAtTheTopOfItsRangeIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, fence string }{
		{"max uint64", "18446744073709551615"},
		{"above max int64", "9223372036854775808"},
		{"max int64", "9223372036854775807"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ns := namespace(t)
			released(t, cs, ns)
			cur := getLease(t, cs, ns)
			cur.Annotations = map[string]string{kubelease.FenceAnnotation: tc.fence}
			if _, err := cs.CoordinationV1().Leases(ns).Update(ctxFor(t, 10*time.Second), cur, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			l := newLocker(t, ns, nil)
			got, err := l.Acquire(ctxFor(t, 30*time.Second), "a", 5*time.Second, nil)
			if !errors.Is(err, kubelease.ErrForeign) {
				t.Fatalf("Acquire = fence %v, %v; want ErrForeign", fenceOrNil(got), err)
			}
			if a := getLease(t, cs, ns).Annotations[kubelease.FenceAnnotation]; a != tc.fence {
				t.Fatalf("fence annotation %q after a refused Acquire, want %q kept", a, tc.fence)
			}
		})
	}
}

func fenceOrNil(l lease.Lease) any {
	if l == nil {
		return nil
	}
	return l.Fence()
}
