package kubelease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/baton-dev/baton/pkg/kubelease"
)

// hookedLeases runs a hook before the nth Get, Create and Update, counted
// from 1, then makes the call on the real API server.
type hookedLeases struct {
	kubelease.Leases
	gets, creates, updates         atomic.Int32
	beforeGet, beforeNew, beforeUp map[int32]func()
}

func (h *hookedLeases) Create(ctx context.Context, l *coordv1.Lease, opts metav1.CreateOptions) (*coordv1.Lease, error) {
	if f := h.beforeNew[h.creates.Add(1)]; f != nil {
		f()
	}
	return h.Leases.Create(ctx, l, opts)
}

func (h *hookedLeases) Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordv1.Lease, error) {
	if f := h.beforeGet[h.gets.Add(1)]; f != nil {
		f()
	}
	return h.Leases.Get(ctx, name, opts)
}

func (h *hookedLeases) Update(ctx context.Context, l *coordv1.Lease, opts metav1.UpdateOptions) (*coordv1.Lease, error) {
	if f := h.beforeUp[h.updates.Add(1)]; f != nil {
		f()
	}
	return h.Leases.Update(ctx, l, opts)
}

// A follower that saw the Lease released tries to take it; someone else
// takes it first, and the Lease is deleted by hand before the follower
// reads it again. The follower must not read "released, then deleted"
// into that: the other holder leads until its next renewal, so the
// follower waits out the quarantine of an absent Lease. Likewise a
// follower that waited out the quarantine and lost the create: the
// quarantine counts again from its next sight of the absent Lease, not
// from the first. Before the fix the follower took the Lease at once in
// each case.
func TestTakenThenDeletedIsNotReleased(t *testing.T) {
	for _, tc := range []struct {
		name string
		// absent starts without the Lease (else released).
		absent bool
		// hooks places take (another holder takes the Lease) and del (a
		// deletion by hand) before the follower's calls.
		hooks func(h *hookedLeases, take, del func())
	}{
		{"deleted before the follower's write", false, func(h *hookedLeases, take, del func()) {
			h.beforeUp[1] = func() { take(); del() }
		}},
		{"deleted before the follower's read after a conflict", false, func(h *hookedLeases, take, del func()) {
			h.beforeUp[1] = take
			h.beforeGet[2] = del
		}},
		{"created by another, deleted before the follower's read", true, func(h *hookedLeases, take, del func()) {
			h.beforeNew[1] = take
			h.beforeGet[2] = del
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ns := namespace(t)
			if !tc.absent {
				released(t, cs, ns)
			}
			ctx := ctxFor(t, time.Minute)
			take := func() {
				other, ten, now := "intruder", int32(10), metav1.NewMicroTime(time.Now())
				spec := coordv1.LeaseSpec{HolderIdentity: &other, LeaseDurationSeconds: &ten, AcquireTime: &now, RenewTime: &now}
				var err error
				if tc.absent {
					_, err = cs.CoordinationV1().Leases(ns).Create(ctx, &coordv1.Lease{
						ObjectMeta: metav1.ObjectMeta{Name: leaseName, Namespace: ns}, Spec: spec}, metav1.CreateOptions{})
				} else {
					cur := getLease(t, cs, ns)
					cur.Spec = spec
					_, err = cs.CoordinationV1().Leases(ns).Update(ctx, cur, metav1.UpdateOptions{})
				}
				if err != nil {
					t.Error(err)
				}
			}
			del := func() {
				if err := cs.CoordinationV1().Leases(ns).Delete(ctx, leaseName, metav1.DeleteOptions{}); err != nil {
					t.Error(err)
				}
			}
			real, err := kubelease.NewClient(apiServer(t), ns)
			if err != nil {
				t.Fatal(err)
			}
			h := &hookedLeases{Leases: real, beforeGet: map[int32]func(){}, beforeNew: map[int32]func(){}, beforeUp: map[int32]func(){}}
			tc.hooks(h, take, del)
			clk := testingclock.NewFakeClock(time.Now())
			b, err := kubelease.New(h, ns, leaseName, kubelease.Options{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			w := startAcquire(ctx, b, "b", 4*time.Second)
			if tc.absent {
				// The first quarantine, from the first read.
				w.waitSeen(t)
				clk.Step(4 * time.Second)
			}
			// The quarantine, of b's own lease as it knows none longer.
			if h := w.waitSeen(t); h.Identity != "" || h.Remaining != 4*time.Second {
				t.Fatalf("b saw %+v, want the quarantine of an absent Lease (4s)", h)
			}
			if w.returned() {
				t.Fatal("b took the Lease while the intruder may still lead")
			}
			clk.Step(4 * time.Second)
			if got := w.wait(t); got.Fence() == 0 {
				t.Fatal("no fence")
			}
		})
	}
}
