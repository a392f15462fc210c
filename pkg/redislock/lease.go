package redislock

import (
	"context"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
)

// Lease is one term of ownership of a Lock, with its owner token and fence.
type Lease struct {
	core *lockcore.Lease
}

// Fence is the term's fencing token, larger than every earlier term's.
func (s *Lease) Fence() uint64 { return s.core.Fence() }

// Identity is the holder identity stored with the lease.
func (s *Lease) Identity() string { return s.core.Identity() }

// Token is the owner token, secret to the holder.
func (s *Lease) Token() string { return s.core.Token() }

// TTL is the lease's time to live.
func (s *Lease) TTL() time.Duration { return s.core.TTL() }

// SentAt is the local time (Options.Now) just before the successful acquire
// was sent: the lease cannot expire before SentAt + TTL unless released.
func (s *Lease) SentAt() time.Time { return s.core.SentAt() }

// Renew extends the lease to its TTL from now, while this term owns it. A
// lease gone gives a *LostError (ErrLost); any other error leaves it
// possibly held.
func (s *Lease) Renew(ctx context.Context) error { return s.core.Renew(ctx) }

// Release gives the lease up and wakes waiters; a lease no longer this
// term's gives ErrNotHeld and deletes nothing.
func (s *Lease) Release(ctx context.Context) error { return s.core.Release(ctx) }
