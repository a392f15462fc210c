package kubelease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/lease"
)

// term is one term of the Lease: it implements pkg/lease's Lease. It owns
// the Lease while the Lease names its identity and carries its fence.
type term struct {
	l        *Locker
	identity string
	seconds  int32
	fence    uint64
	sentAt   time.Time

	mu  sync.Mutex
	obj *coordv1.Lease // the Lease as last written or read by this term
}

func newTerm(l *Locker, identity string, seconds int32, obj *coordv1.Lease, fence uint64, sentAt time.Time) *term {
	return &term{l: l, identity: identity, seconds: seconds, fence: fence, sentAt: sentAt, obj: obj}
}

// Fence is the term's fencing token, the Lease's baton.dev/fence.
func (t *term) Fence() uint64 { return t.fence }

// SentAt is the time, on Options.Clock, just before the acquiring write
// was sent.
func (t *term) SentAt() time.Time { return t.sentAt }

// owns reports whether l is still this term's.
func (t *term) owns(l *coordv1.Lease) bool {
	f, err := fenceOf(l)
	return err == nil && f == t.fence && recordOf(l).holder == t.identity
}

func (t *term) snapshot() *coordv1.Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.obj.DeepCopy()
}

// store keeps l as the term's view, unless a newer renewal was stored
// meanwhile (renewals may run side by side: the elector sends a quick one
// beside a stalled one).
func (t *term) store(l *coordv1.Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !recordOf(l).renew.Before(recordOf(t.obj).renew) {
		t.obj = l
	}
}

// Renew writes a new renewTime, in another whole second than the one it
// replaces: client-go compares records at one-second precision, so its
// followers would not see a renewal within the same second, and would
// count the lease from the one before while this term counts from this
// one. It waits for the next second when needed; the elector counts the
// term from before the call, so the wait can only shorten it. A conflict
// reads the Lease again: still this term's (the conflict came from this
// term's own earlier write), it writes again; someone else's, or deleted,
// it is lost. Any other error leaves the outcome unknown.
func (t *term) Renew(ctx context.Context) error {
	return t.write(ctx, "renew", func(rec record, now time.Time) record {
		rec.holder, rec.seconds, rec.renew = t.identity, t.seconds, now
		return rec
	})
}

// Release writes holderIdentity "" and leaseDurationSeconds 1, as
// client-go does, so that every follower, baton's or client-go's, takes
// over at once; the fence annotation stays. A Lease no longer this term's
// gives ErrNotHeld and is not written.
func (t *term) Release(ctx context.Context) error {
	err := t.write(ctx, "release", func(rec record, now time.Time) record {
		rec.holder, rec.seconds, rec.acquire, rec.renew = "", 1, now, now
		return rec
	})
	if errors.Is(err, lease.ErrLost) {
		return fmt.Errorf("%w: %w", ErrNotHeld, err)
	}
	return err
}

// write updates the Lease with change applied to its record; see Renew.
func (t *term) write(ctx context.Context, op string, change func(record, time.Time) record) error {
	obj := t.snapshot()
	for attempt := 0; ; attempt++ {
		if !t.owns(obj) {
			return fmt.Errorf("%w: %s Lease %s: held by %q with fence %s", lease.ErrLost, op, t.l.Name(),
				recordOf(obj).holder, obj.Annotations[FenceAnnotation])
		}
		now := time.Now()
		if op == "renew" {
			var err error
			if now, err = otherSecond(ctx, recordOf(obj).renew); err != nil {
				return fmt.Errorf("kubelease: %s Lease %s: %w", op, t.l.Name(), err)
			}
		}
		obj.Spec = change(recordOf(obj), now).spec()
		got, err := t.l.leases.Update(ctx, obj, metav1.UpdateOptions{})
		switch {
		case err == nil:
			t.store(got)
			return nil
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%w: %s Lease %s: deleted", lease.ErrLost, op, t.l.Name())
		case !apierrors.IsConflict(err) || attempt > 0:
			return fmt.Errorf("kubelease: %s Lease %s: %w", op, t.l.Name(), err)
		}
		fresh, err := t.l.leases.Get(ctx, t.l.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%w: %s Lease %s: deleted", lease.ErrLost, op, t.l.Name())
		case err != nil:
			return fmt.Errorf("kubelease: %s Lease %s: read after a conflict: %w", op, t.l.Name(), err)
		}
		t.store(fresh)
		obj = fresh.DeepCopy()
	}
}

// otherSecond returns the wall clock's time once it is in another whole
// second than prev (at once, mostly): the second is all of renewTime that
// client-go's comparison sees. An earlier second will do (a clock stepped
// back): client-go compares bytes, not times.
func otherSecond(ctx context.Context, prev time.Time) (time.Time, error) {
	for {
		now := time.Now()
		if now.Unix() != prev.Unix() {
			return now, nil
		}
		t := time.NewTimer(time.Unix(prev.Unix()+1, 0).Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return now, ctx.Err()
		case <-t.C:
		}
	}
}
