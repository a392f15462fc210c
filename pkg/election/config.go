package election

import (
	"context"
	"io"
	"log/slog"
	"time"
	"unicode"

	"k8s.io/utils/clock"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/names"
)

// Defaults for Config fields left zero.
const (
	DefaultLeaseTTL       = 15 * time.Second
	DefaultReleaseTimeout = 5 * time.Second
	// MaxIdentityLen is the longest identity accepted.
	MaxIdentityLen = 253
	// MaxHoldOff is the longest hold-off Resign accepts. A longer one would
	// take the candidate out of the election until it restarts, which is
	// what stopping it is for.
	MaxHoldOff = time.Hour
)

// Config configures an Elector. Zero durations take the documented defaults;
// New rejects the rest of what cannot work.
type Config struct {
	// Locker is the lock to elect on. Required.
	Locker Locker
	// Name is the lock's name, for logs and status. Required: 1 to 128
	// characters from A-Z a-z 0-9 . _ -.
	Name string
	// Identity names this candidate (for example its pod name). Required:
	// 1 to 253 printable characters.
	Identity string

	// LeaseTTL is how long a lease lives in the lock store without renewal.
	// Default 15s. It must be a whole number of milliseconds.
	LeaseTTL time.Duration
	// RenewInterval is the time between renewals. Default LeaseTTL/3.
	RenewInterval time.Duration
	// RenewDeadline is how long the leader keeps its role without a
	// successful renewal, counted from the moment the last successful
	// acquire or renew was sent. Default 2*LeaseTTL/3. It must be below
	// LeaseTTL: the difference is the margin that absorbs clock-rate drift.
	RenewDeadline time.Duration
	// RetryPeriod is the wait before a failed renew is retried and the first
	// back-off after a failed acquire (doubling up to LeaseTTL); it also
	// bounds a renewal's stall (see the package documentation). Default
	// RenewInterval/4.
	RetryPeriod time.Duration
	// ReleaseTimeout bounds each of the two waits of a graceful step-down
	// (for OnStartedLeading to return, then for the release), and a new
	// campaign's wait for the previous term's work. Default 5s.
	ReleaseTimeout time.Duration

	// OnStartedLeading runs in its own goroutine when a term starts; its
	// context is cancelled the moment leadership ends, and the lock is
	// released once it has returned, within the bounds the package
	// documentation states. Optional.
	OnStartedLeading func(ctx context.Context, term Term)
	// OnStoppedLeading is called after each term ends, on the election
	// loop, when this candidate no longer leads. Optional.
	OnStoppedLeading func(term Term, reason StepDownReason)
	// OnNewLeader is called on the election loop when the observed holder
	// changes, including to this identity (then just before the term
	// starts). Optional.
	OnNewLeader func(identity string)

	// Recorder receives metrics. Default: none.
	Recorder Recorder
	// Logger receives one line per transition and per error. Default: a
	// logger that discards.
	Logger *slog.Logger
	// Clock is the elector's clock; tests inject a fake one. Default:
	// CLOCK_BOOTTIME on Linux, time.Now elsewhere.
	Clock clock.Clock
}

// ValidateIdentity checks an identity: 1 to MaxIdentityLen bytes of
// printable characters without spaces. The error wraps ErrInvalidConfig
// and a *field.Error for the field Identity.
func ValidateIdentity(id string) error {
	bad := func(format string, args ...any) error { return invalid("Identity", format, args...) }
	if id == "" {
		return bad("must not be empty")
	}
	if len(id) > MaxIdentityLen {
		return bad("must be at most %d bytes (got %d)", MaxIdentityLen, len(id))
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || r == ' ' {
			return bad("must contain printable characters without spaces (got %q)", id)
		}
	}
	return nil
}

// Validate fills in the defaults of c and checks every rule but the one
// for Locker, returning the first violation: ErrInvalidConfig wrapping a
// *field.Error. New calls it; a program that configures an elector from
// flags can call it first, to report a bad setting before it builds a
// Locker.
func (c *Config) Validate() error {
	if c.Name == "" {
		return invalid("Name", "is required (1 to %d characters from A-Z a-z 0-9 . _ -)", names.MaxLen)
	}
	if err := names.Validate(c.Name); err != nil {
		return invalid("Name", "must be 1 to %d characters from A-Z a-z 0-9 . _ - (got %q)", names.MaxLen, c.Name)
	}
	if err := ValidateIdentity(c.Identity); err != nil {
		return err
	}

	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < 3*time.Millisecond || c.LeaseTTL%time.Millisecond != 0 {
		return invalid("LeaseTTL", "must be a whole number of milliseconds, at least 3ms (got %v)", c.LeaseTTL)
	}
	if c.RenewInterval == 0 {
		c.RenewInterval = c.LeaseTTL / 3
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = 2 * c.LeaseTTL / 3
	}
	if c.RenewInterval <= 0 {
		return invalid("RenewInterval", "must be greater than 0 (got %v)", c.RenewInterval)
	}
	if c.RenewInterval >= c.RenewDeadline {
		return invalid("RenewInterval", "must be less than {RenewDeadline} (got %v >= %v)", c.RenewInterval, c.RenewDeadline)
	}
	if c.RenewDeadline >= c.LeaseTTL {
		return invalid("RenewDeadline", "must be less than {LeaseTTL} (got %v >= %v)", c.RenewDeadline, c.LeaseTTL)
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = c.RenewInterval / 4
	}
	if c.RetryPeriod <= 0 {
		return invalid("RetryPeriod", "must be greater than 0 (got %v)", c.RetryPeriod)
	}
	if c.ReleaseTimeout == 0 {
		c.ReleaseTimeout = DefaultReleaseTimeout
	}
	if c.ReleaseTimeout < 0 {
		return invalid("ReleaseTimeout", "must be greater than 0 (got %v)", c.ReleaseTimeout)
	}
	if c.Recorder == nil {
		c.Recorder = nopRecorder{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = clocks.Real{}
	}
	return nil
}

// validate is Validate plus the rule for Locker.
func (c *Config) validate() error {
	if c.Locker == nil {
		return invalid("Locker", "is required")
	}
	return c.Validate()
}
