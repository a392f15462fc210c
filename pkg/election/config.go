package election

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
	"unicode"

	"k8s.io/utils/clock"

	"github.com/baton-dev/baton/pkg/redislock"
)

// Defaults for Config fields left zero.
const (
	DefaultLeaseTTL       = 15 * time.Second
	DefaultReleaseTimeout = 5 * time.Second
	// MaxIdentityLen is the longest identity accepted.
	MaxIdentityLen = 253
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
	// back-off after a failed acquire (doubling up to LeaseTTL). Default
	// RenewInterval/4.
	RetryPeriod time.Duration
	// ReleaseTimeout bounds a graceful step-down: waiting for
	// OnStartedLeading to return and releasing the lock. Default 5s.
	ReleaseTimeout time.Duration

	// OnStartedLeading runs in its own goroutine when a term starts. Its
	// context is cancelled the moment leadership is lost. On a graceful
	// step-down (resign or shutdown) the lock is released only after it has
	// returned, or after ReleaseTimeout. Optional.
	OnStartedLeading func(ctx context.Context, term Term)
	// OnStoppedLeading is called after each term ends. Optional.
	OnStoppedLeading func(term Term, reason StepDownReason)
	// OnNewLeader is called when the observed holder changes, including to
	// this identity. Optional.
	OnNewLeader func(identity string)

	// Recorder receives metrics. Default: none.
	Recorder Recorder
	// Logger receives one line per transition and per error. Default: a
	// logger that discards.
	Logger *slog.Logger
	// Clock is the elector's clock; tests inject a fake one. Default: the
	// real clock, whose readings carry the monotonic clock.
	Clock clock.Clock
}

// ValidateIdentity checks an identity: 1 to MaxIdentityLen bytes of
// printable characters without spaces. The error is a *ConfigError for the
// field Identity.
func ValidateIdentity(id string) error {
	bad := func(format string, args ...any) error {
		return &ConfigError{Field: "Identity", Rule: fmt.Sprintf(format, args...)}
	}
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

// validate fills defaults and checks every rule, returning the first
// violation as a *ConfigError.
func (c *Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Rule: fmt.Sprintf(format, args...)}
	}
	if c.Locker == nil {
		return bad("Locker", "is required")
	}
	if err := redislock.ValidateName(c.Name); err != nil {
		return bad("Name", "must be 1 to %d characters from A-Z a-z 0-9 . _ - (got %q)", redislock.MaxNameLen, c.Name)
	}
	if err := ValidateIdentity(c.Identity); err != nil {
		return err
	}

	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < 3*time.Millisecond || c.LeaseTTL%time.Millisecond != 0 {
		return bad("LeaseTTL", "must be a whole number of milliseconds, at least 3ms (got %v)", c.LeaseTTL)
	}
	if c.RenewInterval == 0 {
		c.RenewInterval = c.LeaseTTL / 3
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = 2 * c.LeaseTTL / 3
	}
	if c.RenewInterval <= 0 {
		return bad("RenewInterval", "must be greater than 0 (got %v)", c.RenewInterval)
	}
	if c.RenewInterval >= c.RenewDeadline {
		return bad("RenewInterval", "must be less than RenewDeadline (got %v >= %v)", c.RenewInterval, c.RenewDeadline)
	}
	if c.RenewDeadline >= c.LeaseTTL {
		return bad("RenewDeadline", "must be less than LeaseTTL (got %v >= %v)", c.RenewDeadline, c.LeaseTTL)
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = c.RenewInterval / 4
	}
	if c.RetryPeriod <= 0 {
		return bad("RetryPeriod", "must be greater than 0 (got %v)", c.RetryPeriod)
	}
	if c.ReleaseTimeout == 0 {
		c.ReleaseTimeout = DefaultReleaseTimeout
	}
	if c.ReleaseTimeout < 0 {
		return bad("ReleaseTimeout", "must be greater than 0 (got %v)", c.ReleaseTimeout)
	}
	if c.Recorder == nil {
		c.Recorder = nopRecorder{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	return nil
}
