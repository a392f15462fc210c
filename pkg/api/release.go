package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/election"
)

// maxReleaseBody is the largest request body POST /leader/release reads; a
// larger one gets a 413 that names the limit.
const maxReleaseBody = 4 << 10

// release serves POST /leader/release: resign, and stay out of the election
// for the hold-off given as ?hold_off=10s or as {"hold_off":"10s"}, at most
// election.MaxHoldOff, or else for Options.DefaultHoldOff.
func (h *handler) release(w http.ResponseWriter, r *http.Request) {
	holdOff, err := h.releaseHoldOff(w, r)
	if err != nil {
		h.writeRequestError(w, r, err)
		return
	}
	released, err := h.e.Resign(r.Context(), holdOff)
	// A resign waits for the term's work to stop and for the release, as
	// long as the elector's own timeouts allow: the server's WriteTimeout,
	// counted from the request, must not swallow the answer.
	httpx.ExtendWriteDeadline(http.NewResponseController(w), httpx.WriteGrace)
	switch {
	case errors.Is(err, election.ErrNotRunning):
		h.writeError(w, r, http.StatusServiceUnavailable, "election not running")
		return
	case errors.Is(err, election.ErrInvalidHoldOff):
		// Not expected: the hold-off was checked against the same bound.
		h.writeError(w, r, http.StatusBadRequest, "hold_off: %v", err)
		return
	case err != nil && r.Context().Err() != nil:
		// The client went away; the resign goes ahead without it.
		h.log.Info("release requested, client went away", "hold_off", holdOff, "remote", r.RemoteAddr)
		return
	case err != nil:
		h.log.Error("release failed", "hold_off", holdOff, "remote", r.RemoteAddr, "err", err)
		h.writeError(w, r, http.StatusInternalServerError, "resign: %v", err)
		return
	}
	h.log.Info("release requested", "released", released, "hold_off", holdOff, "remote", r.RemoteAddr)
	h.writeJSON(w, http.StatusOK, ReleaseBody{Released: released, HoldOffMS: ceilMillis(holdOff)})
}

// releaseHoldOff returns the hold-off a release asks for.
func (h *handler) releaseHoldOff(w http.ResponseWriter, r *http.Request) (time.Duration, error) {
	q, err := httpx.Query(r, "hold_off")
	if err != nil {
		return 0, err
	}
	inBody, err := readReleaseBody(w, r)
	if err != nil {
		return 0, err
	}
	inQuery, ok := q["hold_off"]
	switch {
	case ok && inBody != nil:
		return 0, httpx.BadRequest("hold_off: give it in the query or in the body, not both")
	case ok:
		return httpx.ParseDuration("hold_off", inQuery[0], election.MaxHoldOff)
	case inBody != nil:
		return httpx.ParseDuration("hold_off", *inBody, election.MaxHoldOff)
	}
	return h.opts.DefaultHoldOff, nil
}

// readReleaseBody reads the optional JSON body of a release and returns its
// hold_off, nil when absent. An empty body is accepted with any Content-Type.
func readReleaseBody(w http.ResponseWriter, r *http.Request) (*string, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReleaseBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &httpx.RequestError{Code: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body: larger than %d bytes", maxReleaseBody)}
		}
		return nil, httpx.BadRequest("request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &httpx.RequestError{Code: http.StatusUnsupportedMediaType, Msg: "request body: Content-Type must be application/json"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var req releaseRequest
	if err := dec.Decode(&req); err != nil {
		return nil, httpx.BadRequest("request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, httpx.BadRequest("request body: more than one JSON value")
	}
	return req.HoldOff, nil
}
