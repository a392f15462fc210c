package api

import (
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/election"
)

// StatusBody is the JSON body of GET /leader, for 200 and 503 alike, and
// the data of each GET /leader/watch event.
type StatusBody struct {
	// Leader is true while this replica leads with a valid term.
	Leader bool `json:"leader"`
	// Identity is this replica's identity.
	Identity string `json:"identity"`
	// Holder is the identity seen holding the lock ("" when unknown).
	Holder string `json:"holder"`
	// Fence is the term's fencing token, present only when Leader (fences
	// start at 1). Pass it to the systems written to.
	Fence uint64 `json:"fence,omitempty"`
	// RemainingMS is how many more milliseconds the term stays valid
	// without another renewal, rounded down; 0 unless Leader.
	RemainingMS int64 `json:"remaining_ms"`
	// TermStart is when the term began, RFC 3339 in UTC; present only when
	// Leader.
	TermStart string `json:"term_start,omitempty"`
	// Lock is the lock's name.
	Lock string `json:"lock"`
	// HoldOffMS is how many more milliseconds this replica stays out of
	// the election after a release, rounded up; absent when none.
	HoldOffMS int64 `json:"hold_off_ms,omitempty"`
	// LastError is the last lock error, absent once an operation succeeds.
	LastError string `json:"last_error,omitempty"`
	// Child is exec mode's child (Options.Child), read when the body is
	// made; absent when baton runs no child.
	Child *ChildBody `json:"child,omitempty"`
}

func newStatusBody(st election.Status) StatusBody {
	b := StatusBody{
		Leader:    st.Leader,
		Identity:  st.Identity,
		Holder:    st.Holder,
		Lock:      st.Name,
		HoldOffMS: ceilMillis(st.HoldOff),
		LastError: st.LastError,
	}
	if st.Leader {
		b.Fence = st.Fence
		b.RemainingMS = max(st.Remaining.Milliseconds(), 0)
		b.TermStart = formatTime(st.TermStart)
	}
	return b
}

// ceilMillis rounds a positive d up to whole milliseconds, so that a
// hold-off still running never reads as 0.
func ceilMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	ms := d.Milliseconds()
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// ReleaseBody is the JSON body of a successful POST /leader/release.
type ReleaseBody struct {
	// Released is true when this replica held the lock and released it.
	Released bool `json:"released"`
	// HoldOffMS is the hold-off applied, in milliseconds.
	HoldOffMS int64 `json:"hold_off_ms"`
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// releaseRequest is the optional JSON body of POST /leader/release.
type releaseRequest struct {
	HoldOff *string `json:"hold_off"`
}

func (h *handler) writeJSON(w http.ResponseWriter, code int, v any) {
	httpx.WriteJSON(h.log, w, code, v)
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, code int, format string, args ...any) {
	httpx.WriteError(h.log, w, r, code, format, args...)
}

func (h *handler) writeRequestError(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteRequestError(h.log, w, r, err)
}
