package api

import (
	"context"
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/election"
)

// leader serves GET /leader, and the long-poll GET /leader?wait=30s. A
// long-poll answers when this replica leads, or when the wait ends, and at
// no other change: a renewal, a new holder elsewhere, or a change of exec
// mode's child leaves it waiting. The status code says whether this
// replica leads, and a caller polls for that; the child, which starts only
// once this replica leads, is read when the answer is written, and its
// changes are GET /leader/watch's to report.
func (h *handler) leader(w http.ResponseWriter, r *http.Request) {
	q, err := httpx.Query(r, "wait")
	if err != nil {
		h.writeRequestError(w, r, err)
		return
	}
	var wait time.Duration
	if s, ok := q["wait"]; ok {
		if wait, err = httpx.ParseDuration("wait", s[0], h.opts.MaxWait); err != nil {
			h.writeRequestError(w, r, err)
			return
		}
	}
	st := h.e.Status()
	if wait > 0 && !st.Leader {
		var ok bool
		if st, ok = h.longPoll(w, r, wait); !ok {
			return
		}
	}
	code := http.StatusOK
	if !st.Leader {
		code = http.StatusServiceUnavailable
	}
	h.writeJSON(w, code, h.statusBody(st))
}

// longPoll waits up to wait for this replica to lead, in one of the
// watchers' slots, and returns the status to answer with. It returns false
// when it has answered itself (no slot free) or the client went away. The
// slot is free again before the answer is written, so a client that polls
// again at once finds it free.
func (h *handler) longPoll(w http.ResponseWriter, r *http.Request, wait time.Duration) (election.Status, bool) {
	release, ok := h.watchers.acquire()
	if !ok {
		h.writeBusy(w, r)
		return election.Status{}, false
	}
	defer release()
	httpx.ExtendWriteDeadline(http.NewResponseController(w), wait+httpx.WriteGrace)
	st, ok := h.awaitLeader(r.Context(), wait)
	if !ok {
		h.log.Debug("long-poll client went away", "remote", r.RemoteAddr)
	}
	return st, ok
}

// awaitLeader returns the status as soon as this replica leads, or when
// wait ends. It returns false if ctx ends first.
func (h *handler) awaitLeader(ctx context.Context, wait time.Duration) (election.Status, bool) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		// Changed before Status: a change after this read closes the
		// channel already in hand.
		changed := h.e.Changed()
		st := h.e.Status()
		if st.Leader {
			return st, true
		}
		select {
		case <-changed:
		case <-t.C:
			return h.e.Status(), true
		case <-ctx.Done():
			return st, false
		}
	}
}
