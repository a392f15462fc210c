package locks

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// term is the lease under a Held: a lock's or a permit's.
type term interface {
	Fence() uint64
	Token() string
	Identity() string
	TTL() time.Duration
	SentAt() time.Time
	Name() string
	Renew(ctx context.Context) error
	Release(ctx context.Context) error
	// Ended tells the fence memory that the lease was released.
	Ended()
}

// Held is a held lock or permit. Release it when done, once per TryLock
// that returned it.
type Held struct {
	term term
	kind string // "lock" or "permit", for errors

	watchdog *watchdog // nil for a lease with a lease time
	releases *releaseRecord
	lost     chan struct{}
	lostOnce sync.Once

	// owner and ownerKey are set for a lock taken under WithOwner.
	owner    *owner
	ownerKey any

	mu      sync.Mutex
	lostErr error
	holds   int // TryLocks not yet released: 1, more after re-entry
}

func newHeld(t term, kind string, now func() time.Time) *Held {
	return &Held{term: t, kind: kind, lost: make(chan struct{}), holds: 1,
		releases: newReleaseRecord(now, t.TTL(), t.SentAt(), t.Ended)}
}

// watch starts the watchdog of a lease taken with lease time 0; Lost is
// closed at once when the acquire's reply came too late to keep its margin.
func (h *Held) watch(ctx context.Context, now func() time.Time) {
	if err := lateReply(now, h.term.TTL(), h.term.SentAt()); err != nil {
		h.markLost(err)
		return
	}
	h.watchdog = startWatchdog(ctx, now, h.term.TTL(), h.term.SentAt(), h.releases.renewing(h.term.Renew), h.markLost)
}

// Fence is the fencing token: larger than every earlier holder's of the
// name (a semaphore's fences are its own, not the lock's of the name).
func (h *Held) Fence() uint64 { return h.term.Fence() }

// Token is the owner token, secret to the holder.
func (h *Held) Token() string { return h.term.Token() }

// Identity is the holder identity stored in Redis.
func (h *Held) Identity() string { return h.term.Identity() }

// TTL is the lease time: the lease time asked for, or the watchdog's.
func (h *Held) TTL() time.Duration { return h.term.TTL() }

// SentAt is the local time just before the successful acquire was sent.
func (h *Held) SentAt() time.Time { return h.term.SentAt() }

// Lost is closed when the lease is lost, or the watchdog can no longer be
// sure of it, a third of the TTL before it can expire; Err says why.
func (h *Held) Lost() <-chan struct{} { return h.lost }

// Err is why the lease was lost, or nil.
func (h *Held) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lostErr
}

// Holds is the number of TryLocks not yet released: 1, more after
// re-entry under WithOwner, 0 once released.
func (h *Held) Holds() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holds
}

// Renew extends the lease to its TTL from now. A lease gone or taken over
// gives ErrLost and closes Lost; after the last Release it gives
// ErrNotHeld. Any other error leaves the lease possibly held.
func (h *Held) Renew(ctx context.Context) error {
	if h.Holds() == 0 {
		return h.notHeld()
	}
	err := h.releases.renewing(h.term.Renew)(ctx)
	if lostOrForeign(err) {
		h.markLost(err)
	}
	return err
}

// Release lets go of one hold; the last one stops the watchdog and
// releases the lease in Redis, waking the next waiter. A lease that had
// expired or was taken over gives ErrNotHeld or ErrLost. Any other error
// leaves it held: retry, while the watchdog renews on or closes Lost.
func (h *Held) Release(ctx context.Context) error {
	h.mu.Lock()
	holds := h.holds
	if holds > 0 {
		h.holds--
	}
	h.mu.Unlock()
	switch {
	case holds > 1:
		return nil
	case holds == 0:
		return h.notHeld()
	}
	err := h.releases.release(ctx, h.watchdog, h.term.Release)
	if err != nil && !releaseFinal(err) {
		h.mu.Lock()
		h.holds++
		h.mu.Unlock()
		return err
	}
	if h.owner != nil {
		h.owner.forget(h.ownerKey, h)
	}
	return err
}

func (h *Held) notHeld() error {
	return fmt.Errorf("%w: %s %q (fence %d) was already released", ErrNotHeld, h.kind, h.term.Name(), h.term.Fence())
}

func (h *Held) markLost(err error) {
	h.lostOnce.Do(func() {
		h.mu.Lock()
		h.lostErr = err
		h.mu.Unlock()
		close(h.lost)
	})
}
