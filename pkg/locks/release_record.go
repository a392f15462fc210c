package locks

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
)

// releaseRecord is what the releases of one Held remember
// across tries, so that a retried release is idempotent: whether an earlier
// try failed after it may have run in Redis (its reply was lost), and when
// the lease was last confirmed, the send time of its acquire or of its
// last successful renew. The lease cannot expire before that time plus its
// TTL, so a retry that finds it gone before then finds the earlier try's
// work, not an expiry.
type releaseRecord struct {
	now func() time.Time
	ttl time.Duration
	// ended tells the fence memory that the lease was released.
	ended func()

	mu         sync.Mutex
	confirmed  time.Time
	mayHaveRun bool
}

func newReleaseRecord(now func() time.Time, ttl time.Duration, sentAt time.Time, ended func()) *releaseRecord {
	return &releaseRecord{now: now, ttl: ttl, confirmed: sentAt, ended: ended}
}

// renewing wraps renew so that each successful renew confirms the lease
// from the moment it was sent.
func (r *releaseRecord) renewing(renew func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		sent := r.now()
		err := renew(ctx)
		if err == nil {
			r.mu.Lock()
			if sent.After(r.confirmed) {
				r.confirmed = sent
			}
			r.mu.Unlock()
		}
		return err
	}
}

// release releases a lease under its watchdog w (nil for a lease nothing
// renews): it stops w, so that no renew races the release, cuts the
// release where the lease's validity ends, and resumes w when the release
// failed without ending the holding (releaseFinal). A release that failed
// past the lease's validity ends it: the error then matches ErrLost, and
// Lost is closed. A release that finds the lease gone after an earlier try
// may have run, while the lease could not have expired yet, succeeds.
func (r *releaseRecord) release(ctx context.Context, w *watchdog, release func(context.Context) error) error {
	w.stop()
	rctx, cancel := w.bound(ctx)
	err := release(rctx)
	cancel()
	r.mu.Lock()
	switch {
	case errors.Is(err, ErrNotHeld) && r.mayHaveRun && r.now().Before(r.confirmed.Add(r.ttl)):
		err = nil
	case err != nil && !releaseFinal(err) && lockcore.MaybeSent(err):
		r.mayHaveRun = true
	}
	r.mu.Unlock()
	if err == nil {
		// Released, by this try or by an earlier one whose reply was
		// lost: the lease can be valid no more (see FenceMemory).
		r.ended()
	}
	if err != nil && !releaseFinal(err) {
		if lost := w.resume(err); lost != nil {
			return lost
		}
	}
	return err
}

// releaseFinal reports whether a release's error still ends the holding:
// the lease was no longer this owner's.
func releaseFinal(err error) bool {
	return errors.Is(err, ErrNotHeld) || lostOrForeign(err)
}
