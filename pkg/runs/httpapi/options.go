package runsapi

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/baton-dev/baton/internal/defaults"
	"github.com/baton-dev/baton/internal/httpx"
)

// Defaults and bounds of Options.
const (
	// DefaultPrefix is the key prefix of the runs. It differs from the
	// election's ("baton") and the application locks' ("baton-locks").
	DefaultPrefix = "baton-runs"
	// DefaultLease is the lease of a claim without ?lease=.
	DefaultLease = time.Minute
	// DefaultMinLease and DefaultMaxLease bound ?lease=.
	DefaultMinLease = 10 * time.Millisecond
	DefaultMaxLease = 24 * time.Hour
	// DefaultMaxAttempts is how many attempts a window gets.
	DefaultMaxAttempts = 3
	// DefaultStreamLease is the lease of a stream without ?lease=, which
	// its watchdog renews every third of.
	DefaultStreamLease = 15 * time.Second
	// DefaultKeepalive is the time between keepalive events on a stream.
	DefaultKeepalive = 5 * time.Second
)

// RunRecorder counts the run calls; its method must not block.
type RunRecorder interface {
	// RunRequest counts one call: op claim, stream, renew, complete or
	// inspect;
	// result ok, conflict, bad_request, canceled or error.
	RunRequest(op, result string)
}

// Options configures NewRedisRuns. Zero values take the documented
// defaults; negative ones are errors.
type Options struct {
	// Prefix starts every key. Default DefaultPrefix. It must differ from
	// the election's and the locks' prefixes.
	Prefix string
	// Identity names the runner in the records. Default: the library's,
	// "<hostname>:<pid>".
	Identity string
	// DefaultLease is the lease of a claim without ?lease=. Default 1m.
	DefaultLease time.Duration
	// MinLease and MaxLease bound ?lease=. Default 10ms and 24h.
	MinLease, MaxLease time.Duration
	// StreamLease is the lease of a stream without ?lease=. Default 15s.
	StreamLease time.Duration
	// Keepalive is the time between keepalive events on a stream.
	// Default 5s.
	Keepalive time.Duration
	// MaxAttempts is how many attempts a window gets (runs.Options).
	// Default 3.
	MaxAttempts int
	// Keep is how many runs each job's record keeps (runs.Options).
	// Default: the library's, 50.
	Keep int
	// AttemptTimeout bounds each Redis call (redislock.Options). Default:
	// the library's, 5s.
	AttemptTimeout time.Duration
	// Recorder counts calls. Default: none.
	Recorder RunRecorder
	// Logger receives a line per failed Redis call. Default: a logger
	// that discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if err := defaults.Durations(
		defaults.Duration{Name: "DefaultLease", Value: &o.DefaultLease, Default: DefaultLease},
		defaults.Duration{Name: "MinLease", Value: &o.MinLease, Default: DefaultMinLease},
		defaults.Duration{Name: "MaxLease", Value: &o.MaxLease, Default: DefaultMaxLease},
		defaults.Duration{Name: "StreamLease", Value: &o.StreamLease, Default: DefaultStreamLease},
		defaults.Duration{Name: "Keepalive", Value: &o.Keepalive, Default: DefaultKeepalive},
	); err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	switch {
	case o.MaxAttempts < 0:
		return o, invalid("MaxAttempts", "must not be negative (got %d)", o.MaxAttempts)
	case o.MaxAttempts == 0:
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxLease > DefaultMaxLease {
		return o, invalid("MaxLease", "must be at most %v (got %v)", DefaultMaxLease, o.MaxLease)
	}
	leases := httpx.Leases{Min: o.MinLease, Max: o.MaxLease, Default: o.DefaultLease, StreamDefault: o.StreamLease}
	if fe := leases.Check(); fe != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalidOptions, fe)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
