package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// watch serves GET /leader/watch, a stream of Server-Sent Events: the
// status at once, then at each change that matters (see eventDue), of the
// election or of exec mode's child, each as
//
//	id: <generation>
//	event: status
//	data: <StatusBody JSON>
//
// with a ": keep-alive" comment every HeartbeatInterval. The id is the
// election's generation, so an event for a change of the child alone
// repeats the previous event's id. It ends when the client goes away. Each
// stream holds one of Options.MaxWatchers' slots.
func (h *handler) watch(w http.ResponseWriter, r *http.Request) {
	s, release := h.openStream(w, r)
	if s == nil {
		return
	}
	defer release()

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
		// Both Changed before the reads: a change after a read closes a
		// channel already in hand.
		changed := h.e.Changed()
		childChanged := h.childChanged()
		st := h.e.Status()
		body := h.statusBody(st)
		if first || eventDue(sent, last, body) {
			data, err := json.Marshal(body)
			if err != nil {
				h.log.Error("encode event", "err", err)
				return
			}
			if !s.send(fmt.Sprintf("id: %d\nevent: status\ndata: %s\n\n", st.Generation, data)) {
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
		case <-childChanged:
		case <-recheck.C:
		case <-heartbeat.C:
			if !s.send(": keep-alive\n\n") {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// eventDue reports whether next must go out as an event, given the last
// body sent and the last body read: when what a client sees differs from
// what it was sent, leaving out the countdowns (see watched). A renewal,
// which changes only remaining_ms, makes no event. hold_off_ms counts down
// as well: its start, its end and an extension make an event, its
// countdown does not.
func eventDue(sent, last, next StatusBody) bool {
	return watched(next) != watched(sent) || next.HoldOffMS > last.HoldOffMS
}

// watchedBody is a StatusBody as watchers compare it, with ==.
type watchedBody struct {
	// status is every field of StatusBody, so that a field added to it
	// makes events without further ado, but remaining_ms, which counts
	// down all the time, and hold_off_ms, which counts down as well,
	// reduced to whether a hold-off runs. Its pointers are nil: the values
	// they point to are compared below, not their addresses, which differ
	// at every read.
	status StatusBody
	// child and exit are the values of Child and Child.LastExit, with
	// LastExit nil; hasChild and hasExit tell a zero value from none.
	child             ChildBody
	exit              ChildExitBody
	hasChild, hasExit bool
}

// watched is b as watchers compare it.
func watched(b StatusBody) watchedBody {
	var w watchedBody
	if c := b.Child; c != nil {
		w.child, w.hasChild = *c, true
		if ex := c.LastExit; ex != nil {
			w.exit, w.hasExit = *ex, true
		}
		w.child.LastExit = nil
	}
	b.Child = nil
	b.RemainingMS = 0
	b.HoldOffMS = min(b.HoldOffMS, 1)
	w.status = b
	return w
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
