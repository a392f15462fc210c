package httpapi

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/defaults"
	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/locks"
)

// Defaults and bounds of LocksOptions.
const (
	// DefaultMaxHeld is the default cap of locks and permits held, or
	// being acquired, through one API at once.
	DefaultMaxHeld = 1000
	// DefaultLockLease is the lease of POST /locks/{name} without ?lease=.
	DefaultLockLease = 30 * time.Second
	// DefaultMinLockLease and DefaultMaxLockLease bound ?lease=.
	DefaultMinLockLease = 10 * time.Millisecond
	DefaultMaxLockLease = time.Hour
	// DefaultMaxLockWait bounds ?wait=.
	DefaultMaxLockWait = 5 * time.Minute
	// DefaultStreamLease is the TTL that a stream's watchdog renews every
	// third of: how long a stream's lock outlives a sidecar killed with
	// SIGKILL (a closed stream releases at once).
	DefaultStreamLease = 15 * time.Second
	// DefaultLockKeepalive is the time between keepalive events on a
	// stream.
	DefaultLockKeepalive = 5 * time.Second
	// DefaultLockReleaseTimeout bounds a release that no caller waits for:
	// at the end of a stream, or of an acquire whose client went away.
	DefaultLockReleaseTimeout = 5 * time.Second
)

// maxPermits is the most permits a semaphore may have.
const maxPermits = locks.MaxPermits

// LockRecorder counts the lock calls; pkg/metrics's Locks implements it.
// Its methods must not block.
type LockRecorder interface {
	// LockRequest counts one call: kind "lock" or "semaphore"; op
	// acquire, stream, renew, release or inspect; result ok, conflict,
	// bad_request, busy, unsupported, canceled or error.
	LockRequest(kind, op, result string)
	// LocksHeld sets the number of locks and permits held now.
	LocksHeld(n int)
}

// LocksOptions configures NewLocks. Zero values take the documented
// defaults; negative ones are errors.
type LocksOptions struct {
	// MaxHeld caps the locks and permits held through this API, plus the
	// acquires under way (waiting ones included). One more gets a 503 with
	// Retry-After. Default 1000.
	MaxHeld int
	// DefaultLease is the lease of an acquire without ?lease=. Default 30s.
	DefaultLease time.Duration
	// MinLease and MaxLease bound ?lease=. Default 10ms and 1h.
	MinLease, MaxLease time.Duration
	// MaxWait bounds ?wait=. Default 5m.
	MaxWait time.Duration
	// StreamLease is the default TTL of a stream's lease, which its
	// watchdog renews every third of it; ?lease= on a stream sets it.
	// Default 15s.
	StreamLease time.Duration
	// Keepalive is the time between keepalive events on a stream. Default 5s.
	Keepalive time.Duration
	// ReleaseTimeout bounds the releases no caller waits for: the end of a
	// stream, an acquire whose client went away. Default 5s.
	ReleaseTimeout time.Duration
	// Recorder counts calls and holdings. Default: none.
	Recorder LockRecorder
	// Logger receives a line per failed Redis call and per release at the
	// end of a stream. Default: a logger that discards.
	Logger *slog.Logger
	// Now is the clock for the leases' local validity, which decides when
	// an unrenewed holding stops counting. Default: the library's clock
	// (CLOCK_BOOTTIME on Linux).
	Now func() time.Time
}

func (o LocksOptions) withDefaults() (LocksOptions, error) {
	if err := defaults.Durations(
		defaults.Duration{Name: "DefaultLease", Value: &o.DefaultLease, Default: DefaultLockLease},
		defaults.Duration{Name: "MinLease", Value: &o.MinLease, Default: DefaultMinLockLease},
		defaults.Duration{Name: "MaxLease", Value: &o.MaxLease, Default: DefaultMaxLockLease},
		defaults.Duration{Name: "MaxWait", Value: &o.MaxWait, Default: DefaultMaxLockWait},
		defaults.Duration{Name: "StreamLease", Value: &o.StreamLease, Default: DefaultStreamLease},
		defaults.Duration{Name: "Keepalive", Value: &o.Keepalive, Default: DefaultLockKeepalive},
		defaults.Duration{Name: "ReleaseTimeout", Value: &o.ReleaseTimeout, Default: DefaultLockReleaseTimeout},
	); err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	switch {
	case o.MaxHeld < 0:
		return o, invalid("MaxHeld", "must not be negative (got %d)", o.MaxHeld)
	case o.MaxHeld == 0:
		o.MaxHeld = DefaultMaxHeld
	}
	leases := httpx.Leases{Min: o.MinLease, Max: o.MaxLease, Default: o.DefaultLease, StreamDefault: o.StreamLease}
	if fe := leases.Check(); fe != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalidOptions, fe)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = clocks.Now
	}
	return o, nil
}
