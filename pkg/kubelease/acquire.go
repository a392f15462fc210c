package kubelease

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/lease"
)

// pendingAttempt is an acquiring write whose answer was lost: if the Lease
// shows it applied (this identity, this fence), the next Acquire takes
// that term instead of waiting for it to expire.
type pendingAttempt struct {
	mu       sync.Mutex
	identity string
	fence    uint64
	sentAt   time.Time
	seconds  int32
}

func (p *pendingAttempt) set(identity string, fence uint64, sentAt time.Time, seconds int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.identity, p.fence, p.sentAt, p.seconds = identity, fence, sentAt, seconds
}

// take returns the pending attempt if cur shows it applied, and forgets it.
func (p *pendingAttempt) take(cur *coordv1.Lease, identity string) (sentAt time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.identity != identity || p.fence == 0 {
		return time.Time{}, false
	}
	rec := recordOf(cur)
	fence, err := fenceOf(cur)
	if err != nil || rec.holder != identity || fence != p.fence || rec.seconds != p.seconds {
		return time.Time{}, false
	}
	sentAt = p.sentAt
	p.identity, p.fence = "", 0
	return sentAt, true
}

// Acquire blocks until identity holds the Lease for ttl (whole seconds, at
// least MinTTL), ctx ends, or an API call fails. It calls onHeld, if not
// nil, with the holder it sees each time it finds the Lease held. A Lease
// that this identity holds is waited for like any other: it may be an
// earlier process's term that still runs.
func (l *Locker) Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(lease.Holder)) (lease.Lease, error) {
	if identity == "" {
		return nil, invalid("Identity", "must not be empty")
	}
	if err := CheckTTL(ttl); err != nil {
		return nil, err
	}
	f := &follower{l: l, identity: identity, seconds: int32(ttl / time.Second), onHeld: onHeld}
	defer f.stopWatch()
	return f.run(ctx)
}

// follower is one waiting Acquire: what it has observed of the Lease, and
// its watch.
type follower struct {
	l        *Locker
	identity string
	seconds  int32
	onHeld   func(lease.Holder)

	cur        *coordv1.Lease // the Lease as last observed; nil when absent
	rv         string         // resourceVersion to watch from
	fresh      bool           // cur and rv come from a read or the watch
	observedAt time.Time      // when cur's record was first seen, on Options.Clock
	absentAt   time.Time      // when the Lease was first seen absent
	lastSecs   int32          // the duration of the last record seen
	released   bool           // the watch saw the Lease released, then deleted

	watch watchState
}

func (f *follower) run(ctx context.Context) (lease.Lease, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !f.fresh {
			if err := f.read(ctx); err != nil {
				return nil, err
			}
		}
		if f.cur != nil {
			if sentAt, ok := f.l.pending.take(f.cur, f.identity); ok {
				fence, _ := fenceOf(f.cur)
				return newTerm(f.l, f.identity, f.seconds, f.cur, fence, sentAt), nil
			}
		}
		now := f.l.opts.Clock.Now()
		wait := f.remaining(now)
		if wait <= 0 {
			t, err := f.try(ctx)
			switch {
			case err == nil:
				return t, nil
			case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err):
				// Someone wrote first, unseen: look again, and count an
				// absent Lease's quarantine from the next sight of it.
				f.fresh, f.absentAt = false, time.Time{}
				continue
			default:
				return nil, err
			}
		}
		if f.onHeld != nil {
			// An absent Lease is held by no one known: a quarantine.
			var h lease.Holder
			if f.cur != nil {
				h.Identity = recordOf(f.cur).holder
				h.Fence, _ = fenceOf(f.cur)
			}
			h.Remaining = wait
			f.onHeld(h)
		}
		// Until a time, not for a duration: the clock may move between
		// here and the timer's start.
		if err := f.wait(ctx, now.Add(wait)); err != nil {
			return nil, err
		}
	}
}

// remaining is how long the observed Lease can still be valid: 0 when it
// is released or expired, and, while it is absent, until one lease has
// passed since it was first seen absent (see the package doc).
func (f *follower) remaining(now time.Time) time.Duration {
	if f.cur == nil {
		if f.released {
			return 0
		}
		secs := max(f.seconds, f.lastSecs)
		return f.absentAt.Add(time.Duration(secs) * time.Second).Sub(now)
	}
	rec := recordOf(f.cur)
	if rec.holder == "" {
		return 0
	}
	return f.observedAt.Add(rec.duration()).Sub(now)
}

// observe records the Lease as seen now (nil: absent).
func (f *follower) observe(l *coordv1.Lease) (changed bool) {
	now := f.l.opts.Clock.Now()
	switch {
	case l == nil && f.cur != nil:
		// Released only when the watch saw the deletion right after the
		// release (event sets it): a read that finds the Lease absent
		// cannot tell that no one took it in between.
		f.released = false
		f.lastSecs = recordOf(f.cur).seconds
		f.cur, f.absentAt = nil, now
		return true
	case l == nil:
		if f.absentAt.IsZero() {
			f.absentAt = now
		}
		return false
	}
	if f.cur == nil || !recordOf(l).equal(recordOf(f.cur)) {
		f.observedAt, changed = now, true
	}
	f.cur, f.absentAt, f.released = l, time.Time{}, false
	return changed
}

// read reads the Lease with a Get: its resourceVersion is where the watch
// starts (a watch from "" starts with the Lease as it is, when it exists).
// RBAC then needs only get and watch on the one Lease name.
func (f *follower) read(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, f.l.opts.CallTimeout)
	defer cancel()
	cur, err := f.l.leases.Get(cctx, f.l.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		f.observe(nil)
		f.rv = ""
	case err != nil:
		return fmt.Errorf("kubelease: get Lease %s: %w", f.l.Name(), err)
	default:
		f.observe(cur)
		f.rv = cur.ResourceVersion
	}
	f.fresh = true
	return nil
}

// try writes this identity's new term over the observed Lease, or creates
// it: the answer's conflict tells that someone else wrote first.
func (f *follower) try(ctx context.Context) (lease.Lease, error) {
	var (
		obj  *coordv1.Lease
		prev uint64
		rec  record
	)
	if f.cur != nil {
		var err error
		if prev, err = fenceOf(f.cur); err != nil {
			return nil, err
		}
		obj, rec = f.cur.DeepCopy(), recordOf(f.cur)
	} else {
		obj = &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: f.l.name, Namespace: f.l.namespace}}
	}
	wall := time.Now()
	fence, err := nextFence(prev, wall)
	if err != nil {
		return nil, fmt.Errorf("kubelease: acquire Lease %s: %w", f.l.Name(), err)
	}
	// As client-go: a term taken over from this same identity (a replica
	// back under its name) keeps the transitions and the acquireTime.
	if f.cur == nil || rec.holder != f.identity {
		rec.acquire = wall
	}
	if f.cur != nil && rec.holder != f.identity {
		rec.transitions++
	}
	rec.holder, rec.seconds, rec.renew = f.identity, f.seconds, wall
	obj.Spec = rec.spec()
	setFence(obj, fence)

	cctx, cancel := context.WithTimeout(ctx, f.l.opts.CallTimeout)
	defer cancel()
	sentAt := f.l.opts.Clock.Now()
	var got *coordv1.Lease
	if f.cur != nil {
		got, err = f.l.leases.Update(cctx, obj, metav1.UpdateOptions{})
	} else {
		got, err = f.l.leases.Create(cctx, obj, metav1.CreateOptions{})
	}
	if err != nil {
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && !apierrors.IsNotFound(err) {
			// The write may have applied: the next Acquire recognises it.
			f.l.pending.set(f.identity, fence, sentAt, f.seconds)
		}
		return nil, fmt.Errorf("kubelease: acquire Lease %s: %w", f.l.Name(), err)
	}
	return newTerm(f.l, f.identity, f.seconds, got, fence, sentAt), nil
}
