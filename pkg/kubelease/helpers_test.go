package kubelease_test

import (
	"context"
	"sync"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/baton-dev/baton/pkg/kubelease"
	"github.com/baton-dev/baton/pkg/lease"
)

const leaseName = "nightly-report"

type kubeClient = kubernetes.Interface

// newLocker is a Locker on NewClient's lean client, as the sidecar's (the
// tests' own reads and writes use the typed clientset).
func newLocker(t *testing.T, ns string, clk clock.Clock) *kubelease.Locker {
	t.Helper()
	leases, err := kubelease.NewClient(apiServer(t), ns)
	if err != nil {
		t.Fatal(err)
	}
	l, err := kubelease.New(leases, ns, leaseName, kubelease.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func getLease(t *testing.T, cs kubernetes.Interface, ns string) *coordv1.Lease {
	t.Helper()
	l, err := cs.CoordinationV1().Leases(ns).Get(ctxFor(t, 10*time.Second), leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func holderOf(l *coordv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// acquirer runs one Acquire in the background and records what it saw.
type acquirer struct {
	done  chan struct{}
	lease lease.Lease
	err   error

	mu    sync.Mutex
	seen  []lease.Holder
	onSee chan struct{} // one value per onHeld call, dropped when full
}

func startAcquire(ctx context.Context, l *kubelease.Locker, identity string, ttl time.Duration) *acquirer {
	a := &acquirer{done: make(chan struct{}), onSee: make(chan struct{}, 100)}
	go func() {
		defer close(a.done)
		a.lease, a.err = l.Acquire(ctx, identity, ttl, func(h lease.Holder) {
			a.mu.Lock()
			a.seen = append(a.seen, h)
			a.mu.Unlock()
			select {
			case a.onSee <- struct{}{}:
			default:
			}
		})
	}()
	return a
}

// waitSeen waits for the next onHeld call.
func (a *acquirer) waitSeen(t *testing.T) lease.Holder {
	t.Helper()
	select {
	case <-a.onSee:
	case <-a.done:
		t.Fatalf("Acquire returned (%v) while the lease was expected held", a.err)
	case <-time.After(30 * time.Second):
		t.Fatal("no onHeld call in 30s")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[len(a.seen)-1]
}

func (a *acquirer) wait(t *testing.T) lease.Lease {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		t.Fatal("Acquire did not return in 30s")
	}
	if a.err != nil {
		t.Fatalf("Acquire: %v", a.err)
	}
	return a.lease
}

// returned reports whether Acquire has returned.
func (a *acquirer) returned() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// released creates the Lease as a release leaves it, so that the first
// Acquire need not wait out the quarantine of an absent Lease.
func released(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	holder, one, zero := "", int32(1), int32(0)
	now := metav1.NewMicroTime(time.Now())
	_, err := cs.CoordinationV1().Leases(ns).Create(ctxFor(t, 10*time.Second), &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName, Namespace: ns},
		Spec: coordv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &one, LeaseTransitions: &zero,
			AcquireTime: &now, RenewTime: &now},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}
