package kubelease

import (
	"context"
	"fmt"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/baton-dev/baton/internal/kubeerr"
)

// watchState is a follower's one watch on its Lease.
type watchState struct {
	w       watch.Interface
	cancel  context.CancelFunc
	backoff time.Duration // the next wait after a failure; 0 after a success
	retryAt time.Time     // no new watch before, after a failure (real time)
}

func (f *follower) stopWatch() {
	if f.watch.w != nil {
		f.watch.w.Stop()
		f.watch.cancel()
		f.watch.w, f.watch.cancel = nil, nil
	}
}

// openWatch opens the watch from the observed resourceVersion, unless one
// is open or a failure asks to wait. A Lease read absent gives no
// resourceVersion: the follower then waits for its quarantine without a
// watch (a watch from "" is a watch list, which API servers on etcd
// without progress notifications refuse), and a creation meanwhile is
// found by its own create's conflict.
func (f *follower) openWatch(ctx context.Context) {
	if f.watch.w != nil || f.rv == "" || time.Now().Before(f.watch.retryAt) {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	// The call's timeout bounds only the opening: the stream lives on
	// under wctx, which stopWatch cancels.
	cctx, ccancel := context.WithTimeout(ctx, f.l.opts.CallTimeout)
	stop := context.AfterFunc(cctx, cancel)
	w, err := f.l.leases.Watch(wctx, metav1.ListOptions{
		FieldSelector:       "metadata.name=" + f.l.name,
		ResourceVersion:     f.rv,
		AllowWatchBookmarks: true,
	})
	if !stop() && err == nil {
		w.Stop()
		err = fmt.Errorf("opening the watch took over %v: %w", f.l.opts.CallTimeout, context.DeadlineExceeded)
	}
	ccancel()
	if err != nil {
		cancel()
		f.watchFailed("watch", err)
		return
	}
	f.watch.w, f.watch.cancel = w, cancel
}

// watchFailed closes the watch and schedules the next: a fresh read first
// when the API server asked for one (kubeerr.Expected), a back-off when
// the failure was not expected.
func (f *follower) watchFailed(op string, err error) {
	f.stopWatch()
	if kubeerr.Expected(err) {
		f.fresh = false
		return
	}
	if f.l.opts.OnError != nil {
		f.l.opts.OnError(op, fmt.Errorf("kubelease: %s Lease %s: %w", op, f.l.Name(), err))
	}
	b := f.watch.backoff
	switch {
	case b == 0:
		b = f.l.opts.RewatchFirst
	default:
		b = min(2*b, time.Duration(max(f.seconds, 1))*time.Second)
	}
	f.watch.backoff = b
	f.watch.retryAt = time.Now().Add(b)
}

// wait waits until until for the Lease to change in a way that can make it
// free (released, deleted, or the watch asking for a fresh read); it
// returns early then, and at until, when the observed record can have expired.
func (f *follower) wait(ctx context.Context, until time.Time) error {
	clk := f.l.opts.Clock
	d := until.Sub(clk.Now())
	if d <= 0 {
		return nil // (a fake clock's timer would wait for its next step)
	}
	expiry := clk.NewTimer(d)
	defer expiry.Stop()
	// The back-off of a failed watch runs on real time, not Options.Clock:
	// it times no lease.
	var retry *time.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		if !f.fresh {
			return nil // the caller reads again
		}
		f.openWatch(ctx)
		var (
			events  <-chan watch.Event
			retryCh <-chan time.Time
		)
		switch {
		case f.watch.w != nil:
			events = f.watch.w.ResultChan()
		case f.rv == "":
			// No watch: the expiry alone.
		default:
			if retry == nil {
				retry = time.NewTimer(time.Until(f.watch.retryAt))
			} else {
				retry.Reset(time.Until(f.watch.retryAt))
			}
			retryCh = retry.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-expiry.C():
			return nil
		case <-retryCh:
		case ev, ok := <-events:
			if !ok {
				// The API server ends watches at its own timeout: open it
				// again from the last resourceVersion, at once.
				f.stopWatch()
				continue
			}
			if f.event(ev) {
				return nil
			}
		}
	}
}

// event applies one watch event; true when the wait should end, so that
// the caller looks at the Lease again.
func (f *follower) event(ev watch.Event) bool {
	switch ev.Type {
	case watch.Error:
		// An expected error asks for a fresh read (fresh is then false,
		// and the wait ends); another one, for a new watch after a wait.
		f.watchFailed("watch", apierrors.FromObject(ev.Object))
		return !f.fresh
	case watch.Bookmark:
		if m, err := metaOf(ev.Object); err == nil {
			f.rv = m.GetResourceVersion()
		}
		return false
	}
	l, ok := ev.Object.(*coordv1.Lease)
	if !ok || l.Name != f.l.name {
		return false
	}
	f.rv = l.ResourceVersion
	f.watch.backoff = 0
	if ev.Type == watch.Deleted {
		// The watch sees every change in order: the record before this
		// deletion is the one observed last.
		wasReleased := f.cur != nil && recordOf(f.cur).holder == ""
		f.observe(nil)
		f.released = wasReleased
		return true
	}
	changed := f.observe(l)
	// A change restarts the count of the holder's lease; the caller sets
	// a new timer from it, and tries at once when the Lease is released.
	return changed
}
