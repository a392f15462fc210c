package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

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

// writeGrace is how long a write may take beyond the moment it is due
// before the connection counts as stalled.
const writeGrace = 10 * time.Second

type handler struct {
	e    Elector
	opts Options
	log  *slog.Logger
}

// NewHandler returns the API's handler for e. It rejects a nil e and
// invalid options (see ErrInvalidOptions).
func NewHandler(e Elector, opts Options) (http.Handler, error) {
	if e == nil {
		return nil, errors.New("api: nil Elector")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &handler{e: e, opts: opts, log: opts.Logger}

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, http.StatusForbidden, "cross-origin request refused")
	}))

	mux := http.NewServeMux()
	// A pattern with a method is more specific than the same path without
	// one, so the method-less patterns catch only the wrong methods.
	mux.HandleFunc("GET /leader", h.leader)
	mux.HandleFunc("GET /leader/watch", h.watch)
	mux.Handle("POST /leader/release", cop.Handler(http.HandlerFunc(h.release)))
	mux.Handle("/leader", h.methodNotAllowed("GET, HEAD"))
	mux.Handle("/leader/watch", h.methodNotAllowed("GET, HEAD"))
	mux.Handle("/leader/release", h.methodNotAllowed("POST"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, http.StatusNotFound, "no such endpoint: %s", r.URL.Path)
	})
	return mux, nil
}

func (h *handler) methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.writeError(w, r, http.StatusMethodNotAllowed, "method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)
	})
}

// extendWriteDeadline lets the response be written until d from now,
// whatever the server's WriteTimeout. Writers that cannot set deadlines
// (such as test recorders) are left as they are.
func extendWriteDeadline(rc *http.ResponseController, d time.Duration) {
	_ = rc.SetWriteDeadline(time.Now().Add(d))
}
