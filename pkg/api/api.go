package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/election"
)

// Elector is what the API needs of an election. *election.Elector
// satisfies it.
type Elector interface {
	// Status returns a snapshot; Leader is computed at the moment of the
	// read.
	Status() election.Status
	// Changed returns a channel that is closed at the next change of
	// status. It is called again after each wake-up.
	Changed() <-chan struct{}
	// Resign steps down if leading, releases the lock and stays out of the
	// election for holdOff. It reports whether a held lock was released, and
	// returns election.ErrNotRunning when the election is not running.
	Resign(ctx context.Context, holdOff time.Duration) (bool, error)
}

var _ Elector = (*election.Elector)(nil)

type handler struct {
	e        Elector
	opts     Options
	log      *slog.Logger
	watchers watcherSlots
	// seen is the drop-in's memory of when it first reported the leader.
	seen leaderSeen
}

// NewHandler returns the API's handler for e. It rejects a nil e
// (ErrNilElector) and invalid options (ErrInvalidOptions). Serve it with
// NewServer's timeouts.
func NewHandler(e Elector, opts Options) (http.Handler, error) {
	if e == nil {
		return nil, ErrNilElector
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	hosts, err := newHostPolicy(opts.AllowedHosts)
	if err != nil {
		return nil, err
	}
	h := &handler{e: e, opts: opts, log: opts.Logger, watchers: make(watcherSlots, opts.MaxWatchers)}
	return h.guarded(hosts, routesFunc(func(mux *http.ServeMux, stateChanging func(http.HandlerFunc) http.Handler) {
		// A pattern with a method is more specific than the same path
		// without one, so the method-less patterns catch only the wrong
		// methods.
		mux.HandleFunc("GET /leader", h.leader)
		mux.HandleFunc("GET /leader/watch", h.watch)
		mux.Handle("POST /leader/release", stateChanging(h.release))
		mux.Handle("/leader", h.methodNotAllowed("GET, HEAD"))
		mux.Handle("/leader/watch", h.methodNotAllowed("GET, HEAD"))
		mux.Handle("/leader/release", h.methodNotAllowed("POST"))
		// The drop-in for nais/elector's API: "/{$}" is "/" alone, so
		// other unknown paths still fall through to the 404.
		mux.HandleFunc("GET /{$}", h.electorGet)
		mux.HandleFunc("GET /sse", h.electorSSE)
		mux.Handle("/{$}", h.methodNotAllowed("GET, HEAD"))
		mux.Handle("/sse", h.methodNotAllowed("GET, HEAD"))
	})), nil
}

// NewRoutesHandler returns the API's handler without an election, as in
// schedule mode: only opts.Routes, one of which may serve /leader, under
// the same Host guard, cross-origin check and token as NewHandler's;
// other paths answer 404. The election's fields of opts (DefaultHoldOff,
// MaxWait, HeartbeatInterval, MaxWatchers, Child) are checked but unused.
func NewRoutesHandler(opts Options) (http.Handler, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	hosts, err := newHostPolicy(opts.AllowedHosts)
	if err != nil {
		return nil, err
	}
	h := &handler{opts: opts, log: opts.Logger}
	return h.guarded(hosts, nil), nil
}

// guarded builds the mux of own's routes and opts.Routes, with a 404 for
// the rest, behind the Host guard.
func (h *handler) guarded(hosts hostPolicy, own Routes) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, http.StatusForbidden, "cross-origin request refused")
	}))
	token := newTokenGuard(h.opts.Token)
	// stateChanging guards every route that changes state: no cross-origin
	// browser request, and the token when one is set.
	stateChanging := func(next http.HandlerFunc) http.Handler {
		return cop.Handler(token.guard(h, next))
	}
	mux := http.NewServeMux()
	if own != nil {
		own.Register(mux, stateChanging)
	}
	for _, rs := range h.opts.Routes {
		rs.Register(mux, stateChanging)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, http.StatusNotFound, "no such endpoint: %s", r.URL.Path)
	})
	return hosts.guard(h, mux)
}

// routesFunc makes a function a Routes.
type routesFunc func(mux *http.ServeMux, stateChanging func(http.HandlerFunc) http.Handler)

// Register calls f.
func (f routesFunc) Register(mux *http.ServeMux, stateChanging func(http.HandlerFunc) http.Handler) {
	f(mux, stateChanging)
}

func (h *handler) methodNotAllowed(allow string) http.Handler {
	return httpx.MethodNotAllowed(h.log, allow)
}
