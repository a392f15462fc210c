package runs

import (
	"fmt"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/redislock"
)

// The bounds of Options.Keep.
const MinKeep, MaxKeep = 20, 1000

// The defaults of Options.
const (
	defaultMaxAttempts = 3
	defaultKeep        = 50
	defaultKeyGrace    = 7 * 24 * time.Hour
)

// Options tunes a Job. The zero value is valid.
type Options struct {
	// Lease holds the options of the lease engine: key prefix, call
	// bounds. MinReplicas is not supported and must be 0.
	Lease redislock.Options
	// Identity names the runner in the records. Default "<hostname>:<pid>".
	Identity string
	// MaxAttempts is how many attempts a window gets, failed or lost ones
	// counted. Default 3, at most 100.
	MaxAttempts int
	// Keep is how many runs the job's record keeps, besides the attempts
	// whose lease still holds (an API finds a run by its id there).
	// Default 50, from 20 to 1000.
	Keep int
	// KeyGrace is how long a job's keys outlive their last write, a lease
	// end, or a window's close. Default 7 days, whole milliseconds.
	KeyGrace time.Duration
}

// validate fills in o's defaults and checks its own fields.
func (o *Options) validate() error {
	if o.Lease.MinReplicas != 0 {
		return invalid("Lease.MinReplicas", "must be 0: runs do not support it")
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.MaxAttempts < 1 || o.MaxAttempts > 100 {
		return invalid("MaxAttempts", "must be from 1 to 100 (got %d)", o.MaxAttempts)
	}
	if o.Keep == 0 {
		o.Keep = defaultKeep
	}
	if o.Keep < MinKeep || o.Keep > MaxKeep {
		return invalid("Keep", "must be from %d to %d (got %d)", MinKeep, MaxKeep, o.Keep)
	}
	if o.KeyGrace == 0 {
		o.KeyGrace = defaultKeyGrace
	}
	if o.KeyGrace < time.Millisecond || o.KeyGrace%time.Millisecond != 0 {
		return invalid("KeyGrace", "must be a positive whole number of milliseconds (got %v)", o.KeyGrace)
	}
	return nil
}

// core is o in the lease engine's terms.
func (o Options) core() lockcore.Options {
	l := o.Lease
	return lockcore.Options{Prefix: l.Prefix, Now: l.Now, AttemptTimeout: l.AttemptTimeout, GuardCalls: l.GuardCalls,
		SubscribeTimeout: l.SubscribeTimeout, Identity: o.Identity}
}

// invalid is the error of a setting or argument that breaks a rule.
func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalid, field.Invalid(name, format, args...))
}
