package api

import (
	"context"
	"net/http"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// leader serves GET /leader, and the long-poll GET /leader?wait=30s.
func (h *handler) leader(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "wait")
	if err != nil {
		h.writeRequestError(w, r, err)
		return
	}
	var wait time.Duration
	if s, ok := q["wait"]; ok {
		if wait, err = parseDuration("wait", s[0], h.opts.MaxWait); err != nil {
			h.writeRequestError(w, r, err)
			return
		}
		extendWriteDeadline(http.NewResponseController(w), wait+writeGrace)
	}
	st, ok := h.awaitLeader(r.Context(), wait)
	if !ok {
		h.log.Debug("long-poll client went away", "remote", r.RemoteAddr)
		return
	}
	code := http.StatusOK
	if !st.Leader {
		code = http.StatusServiceUnavailable
	}
	h.writeJSON(w, code, newStatusBody(st))
}

// awaitLeader returns the status as soon as this replica leads, or when
// wait ends. It returns false if ctx ends first.
func (h *handler) awaitLeader(ctx context.Context, wait time.Duration) (election.Status, bool) {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		// Changed before Status: a change after this read closes the
		// channel already in hand.
		changed := h.e.Changed()
		st := h.e.Status()
		if st.Leader || wait == 0 {
			return st, true
		}
		select {
		case <-changed:
		case <-timeout:
			return h.e.Status(), true
		case <-ctx.Done():
			return st, false
		}
	}
}
