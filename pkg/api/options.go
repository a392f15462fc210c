package api

import (
	"log/slog"
	"time"
)

// Defaults for Options fields left zero.
const (
	// DefaultHoldOff is a release's default hold-off: election's default
	// lease TTL, long enough for another candidate to take the lock.
	DefaultHoldOff = 15 * time.Second
	// DefaultMaxWait is the default longest long-poll.
	DefaultMaxWait = 5 * time.Minute
	// DefaultHeartbeatInterval is the default time between keep-alive
	// comments on an event stream.
	DefaultHeartbeatInterval = 15 * time.Second
)

// Options configures the handler. Zero values take the documented
// defaults; negative durations are errors.
type Options struct {
	// DefaultHoldOff is the hold-off POST /leader/release uses when the
	// caller gives none: how long this replica stays out of the election
	// after resigning. The handler does not know the elector's lease TTL,
	// so set this to match it. Default 15s (election's default LeaseTTL).
	// A caller who wants to compete again at once passes hold_off=0s.
	DefaultHoldOff time.Duration
	// MaxWait is the longest wait a long-poll (GET /leader?wait=) accepts;
	// longer ones get a 400. Default 5m.
	MaxWait time.Duration
	// HeartbeatInterval is the time between keep-alive comments on
	// GET /leader/watch, which keep proxies and idle timeouts from closing a
	// quiet stream. Default 15s.
	HeartbeatInterval time.Duration
	// Logger receives a line per release and per failed request. Default: a
	// logger that discards.
	Logger *slog.Logger
}

// withDefaults checks o and returns it with its defaults filled in.
func (o Options) withDefaults() (Options, error) {
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"DefaultHoldOff", &o.DefaultHoldOff, DefaultHoldOff},
		{"MaxWait", &o.MaxWait, DefaultMaxWait},
		{"HeartbeatInterval", &o.HeartbeatInterval, DefaultHeartbeatInterval},
	} {
		switch {
		case *f.v < 0:
			return o, &OptionsError{Field: f.name, Rule: "must not be negative, got " + f.v.String()}
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
