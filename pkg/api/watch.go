package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// watch serves GET /leader/watch, a stream of Server-Sent Events: the
// status at once, then at each change that matters (see eventDue), each as
//
//	id: <generation>
//	event: status
//	data: <StatusBody JSON>
//
// with a ": keep-alive" comment every HeartbeatInterval. It ends when the
// client goes away.
func (h *handler) watch(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.writeRequestError(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	rc := http.NewResponseController(w)
	// Each write may take until the next heartbeat is due, and then some.
	deadline := h.opts.HeartbeatInterval + writeGrace
	extendWriteDeadline(rc, deadline)
	w.WriteHeader(http.StatusOK)

	heartbeat := time.NewTicker(h.opts.HeartbeatInterval)
	defer heartbeat.Stop()
	// recheck wakes the loop when the term's validity or the hold-off runs
	// out: Status changes then, but the elector may announce it late (a
	// wedged loop) or not at all (the end of a hold-off).
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()

	var sent, last StatusBody
	first := true
	for {
		changed := h.e.Changed()
		st := h.e.Status()
		body := newStatusBody(st)
		if first || eventDue(sent, last, body) {
			data, err := json.Marshal(body)
			if err != nil {
				h.log.Error("encode event", "err", err)
				return
			}
			extendWriteDeadline(rc, deadline)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: status\ndata: %s\n\n", st.Generation, data); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				h.log.Debug("event stream flush failed", "err", err)
				return
			}
			sent, first = body, false
		}
		last = body
		if d := nextRecheck(st.Remaining, st.HoldOff); d > 0 {
			recheck.Reset(d)
		} else {
			recheck.Stop()
		}

		select {
		case <-changed:
		case <-recheck.C:
		case <-heartbeat.C:
			extendWriteDeadline(rc, deadline)
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// eventDue reports whether next must go out as an event, given the last
// body sent and the last body read. remaining_ms alone never makes an
// event, since it counts down all the time. hold_off_ms counts down as well:
// its start, its end and an extension make an event, its countdown does not.
func eventDue(sent, last, next StatusBody) bool {
	if next.Leader != sent.Leader || next.Identity != sent.Identity ||
		next.Holder != sent.Holder || next.Fence != sent.Fence ||
		next.Lock != sent.Lock || next.LastError != sent.LastError {
		return true
	}
	if (next.HoldOffMS == 0) != (sent.HoldOffMS == 0) {
		return true
	}
	return next.HoldOffMS > last.HoldOffMS
}

// nextRecheck returns the sooner of the positive durations among ds, or 0
// when none is.
func nextRecheck(ds ...time.Duration) time.Duration {
	var next time.Duration
	for _, d := range ds {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	return next
}
