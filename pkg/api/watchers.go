package api

import (
	"net/http"
	"strconv"

	"github.com/baton-dev/baton/internal/httpx"
)

// watcherSlots bounds the long-polls and event streams served at once:
// each holds a goroutine, a connection and a wake-up on every change.
type watcherSlots chan struct{}

// acquire takes a slot if one is free; the caller calls release when done.
func (s watcherSlots) acquire() (release func(), ok bool) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, true
	default:
		return nil, false
	}
}

// writeBusy answers a watcher beyond the cap. The body is an ErrorBody,
// not a StatusBody, and Retry-After tells it apart from a 503 that means
// "not leader".
func (h *handler) writeBusy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(httpx.BusyRetryAfter))
	h.writeError(w, r, http.StatusServiceUnavailable,
		"too many waiting clients (at most %d long-polls and event streams); retry later", cap(h.watchers))
}
