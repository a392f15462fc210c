package api

import (
	"log/slog"
	"time"

	"github.com/baton-dev/baton/internal/defaults"
	"github.com/baton-dev/baton/pkg/election"
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
	// DefaultMaxWatchers is the default number of long-polls and event
	// streams served at once.
	DefaultMaxWatchers = 256
)

// MaxTokenLen is the longest Options.Token accepted.
const MaxTokenLen = 1024

// Options configures the handler. Zero values take the documented
// defaults; negative durations are errors.
type Options struct {
	// DefaultHoldOff is the hold-off POST /leader/release uses when the
	// caller gives none: how long this replica stays out of the election
	// after resigning. The handler does not know the elector's lease TTL,
	// so set this to match it. Default 15s (election's default LeaseTTL);
	// at most election.MaxHoldOff. A caller who wants to compete again at
	// once passes hold_off=0s.
	DefaultHoldOff time.Duration
	// MaxWait is the longest wait a long-poll (GET /leader?wait=) accepts;
	// longer ones get a 400. Default 5m.
	MaxWait time.Duration
	// HeartbeatInterval is the time between keep-alive comments on
	// GET /leader/watch, which keep proxies and idle timeouts from closing a
	// quiet stream. Default 15s.
	HeartbeatInterval time.Duration
	// MaxWatchers caps the clients that wait at once: long-polls that have
	// to wait and event streams together. One more gets a 503 with a
	// Retry-After header and an ErrorBody. Default 256.
	MaxWatchers int

	// AllowedHosts are the names, besides loopback, that requests may
	// carry in their Host header, such as the host of the address the API
	// listens on when that is not loopback. Each is a DNS name or an IP
	// address, optionally with a port, which is ignored; names compare
	// case-insensitively. localhost, 127.0.0.0/8 and ::1 are always
	// allowed. Every other Host gets a 421, on every route: a web page that
	// reaches the API through a rebound DNS name carries that name. Default
	// none.
	AllowedHosts []string
	// Token, when set, is required as "Authorization: Bearer <Token>" on
	// every request that changes state (POST /leader/release); reads stay
	// open. It is compared in constant time. At most MaxTokenLen
	// characters of the RFC 6750 token set (A-Z a-z 0-9 - . _ ~ + /,
	// then = padding), so a newline read along from a file is an error.
	// Default "": no token.
	Token string

	// Child, in exec mode, is the supervisor of the job baton runs as its
	// child. Its state is the child field of every StatusBody, and its
	// changes make events on GET /leader/watch. Default nil: no child, and
	// no child field.
	Child ChildSource

	// Locks, when set, serves the application's locks and semaphores on
	// /locks/ and /semaphores/ (see NewLocks), under the same Host guard
	// and token as /leader. Default nil: those paths answer 404.
	Locks *Locks

	// Logger receives a line per release and per failed request. Default: a
	// logger that discards.
	Logger *slog.Logger
}

// withDefaults checks o and returns it with its defaults filled in.
func (o Options) withDefaults() (Options, error) {
	if err := defaults.Durations(
		defaults.Duration{Name: "DefaultHoldOff", Value: &o.DefaultHoldOff, Default: DefaultHoldOff},
		defaults.Duration{Name: "MaxWait", Value: &o.MaxWait, Default: DefaultMaxWait},
		defaults.Duration{Name: "HeartbeatInterval", Value: &o.HeartbeatInterval, Default: DefaultHeartbeatInterval},
	); err != nil {
		return o, invalidField(err)
	}
	if o.DefaultHoldOff > election.MaxHoldOff {
		return o, invalid("DefaultHoldOff", "must be at most %v (election.MaxHoldOff) (got %v)", election.MaxHoldOff, o.DefaultHoldOff)
	}
	switch {
	case o.MaxWatchers < 0:
		return o, invalid("MaxWatchers", "must not be negative (got %d)", o.MaxWatchers)
	case o.MaxWatchers == 0:
		o.MaxWatchers = DefaultMaxWatchers
	}
	if err := validToken(o.Token); err != nil {
		return o, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
