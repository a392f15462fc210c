package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/election"
)

// ElectorBody is the JSON body of GET / and the data of each GET /sse
// event: the shape of nais/elector (and, name alone, of the old
// kubernetes/contrib election sidecar), so that apps written for those
// sidecars run unchanged. Both fields are absent while no leader is known,
// as nais/elector answers {} before its first election.
type ElectorBody struct {
	// Name is the leader's identity.
	Name string `json:"name,omitempty"`
	// LastUpdate is when this sidecar first reported Name as the leader,
	// RFC 3339 in UTC, whole seconds.
	LastUpdate string `json:"last_update,omitempty"`
}

// leaderName is the leader as the drop-in reports it: the holder seen, but
// never this replica unless it leads with a valid term, since apps compare
// the name with their own to decide whether they lead.
func leaderName(st election.Status) string {
	if st.Holder == st.Identity && !st.Leader {
		return ""
	}
	return st.Holder
}

// now is the clock of last_update; tests replace it (export_test.go).
var now = time.Now

// leaderSeen remembers when the drop-in first reported the current leader:
// its last_update, which stays put while the same leader renews. It is
// noted at each GET / and at each wake-up of a /sse stream.
type leaderSeen struct {
	mu   sync.Mutex
	name string
	at   time.Time
}

// body returns the drop-in's body for name, noting the change if it is one.
func (s *leaderSeen) body(name string) ElectorBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != s.name || s.at.IsZero() {
		s.name, s.at = name, now()
	}
	if name == "" {
		return ElectorBody{}
	}
	return ElectorBody{Name: name, LastUpdate: s.at.UTC().Format(time.RFC3339)}
}

// electorGet serves GET /: 200 with the leader on every replica, leader and
// followers alike.
func (h *handler) electorGet(w http.ResponseWriter, r *http.Request) {
	if _, err := httpx.Query(r); err != nil {
		h.writeRequestError(w, r, err)
		return
	}
	h.writeJSON(w, http.StatusOK, h.seen.body(leaderName(h.e.Status())))
}

// electorSSE serves GET /sse, a stream of Server-Sent Events as nais/elector
// sends them: "data: <ElectorBody JSON>" at once, then at each change of
// the leader, with no id or event lines, and a ": keep-alive" comment every
// HeartbeatInterval, which SSE clients ignore. It holds one of
// Options.MaxWatchers' slots and ends when the client goes away or the
// server's base context ends.
func (h *handler) electorSSE(w http.ResponseWriter, r *http.Request) {
	s, release := h.openStream(w, r)
	if s == nil {
		return
	}
	defer release()

	heartbeat := time.NewTicker(h.opts.HeartbeatInterval)
	defer heartbeat.Stop()
	// recheck wakes the loop when this replica's term runs out, which the
	// elector may announce late: its name leaves the body then.
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()

	var sent ElectorBody
	first := true
	for {
		changed := h.e.Changed() // before the read: see watch
		st := h.e.Status()
		body := h.seen.body(leaderName(st))
		if first || body != sent {
			data, err := json.Marshal(body)
			if err != nil {
				h.log.Error("encode event", "err", err)
				return
			}
			if !s.send(fmt.Sprintf("data: %s\n\n", data)) {
				return
			}
			sent, first = body, false
		}
		if st.Remaining > 0 {
			recheck.Reset(st.Remaining)
		} else {
			recheck.Stop()
		}
		select {
		case <-changed:
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
