package api

import (
	"log/slog"
	"net/http"
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
	// DefaultHoldOff is how long this replica stays out of the election
	// after POST /leader/release without a hold-off; set it to the
	// elector's LeaseTTL. Default 15s; at most election.MaxHoldOff.
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

	// AllowedHosts are the Host header names, besides localhost,
	// 127.0.0.0/8 and ::1, that requests may carry: DNS names or IP
	// addresses, with an optional port, which is ignored. Any other Host
	// gets a 421. Default none.
	AllowedHosts []string
	// Token, when set, is required as "Authorization: Bearer <Token>" on
	// every request that changes state; reads stay open. At most
	// MaxTokenLen characters of RFC 6750's token set. Default "": no token.
	Token string

	// Child, in exec mode, is the supervisor of the job baton runs as its
	// child. Its state is the child field of every StatusBody, and its
	// changes make events on GET /leader/watch. Default nil: no child, and
	// no child field.
	Child ChildSource

	// Routes are more route sets served beside /leader, under the same
	// Host guard, cross-origin check and token, such as pkg/locks/httpapi's
	// /locks and /semaphores. Default none: other paths answer 404.
	Routes []Routes

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

// Routes is a set of routes served beside /leader (Options.Routes).
type Routes interface {
	// Register adds the routes to mux; stateChanging wraps a route that
	// changes state with the cross-origin check and the token.
	Register(mux *http.ServeMux, stateChanging func(http.HandlerFunc) http.Handler)
}
