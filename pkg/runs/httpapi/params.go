package runsapi

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/internal/names"
	"github.com/baton-dev/baton/pkg/runs"
)

// maxRunID is the longest run_id accepted; the library's ids are 32 hex
// digits.
const maxRunID = 128

// request is a run call's parameters, checked before any Redis call.
type request struct {
	job    string
	window string
	lease  time.Duration
	closes time.Time
	runID  string
	status runs.Status
}

// query reads r's job and its query, which may hold only allowed. The
// parameters are in the query only: a request body is refused rather
// than ignored. Reading it to its end also lets net/http watch the
// connection, so that a client going away ends the request's context.
func query(r *http.Request, allowed ...string) (request, url.Values, error) {
	req := request{job: r.PathValue("job")}
	n, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1))
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return req, nil, httpx.BadRequest("request body: %v", err)
	case n > 0:
		return req, nil, httpx.BadRequest("request body: must be empty: run calls take their parameters in the query")
	}
	q, err := httpx.Query(r, allowed...)
	if err != nil {
		return req, nil, err
	}
	if err := names.Validate(req.job); err != nil {
		return req, nil, httpx.BadRequest("job: %v", err)
	}
	return req, q, nil
}

// claimRequest reads a claim's job, window, lease and closes; a stream's
// lease defaults to StreamLease.
func (rs *Runs) claimRequest(r *http.Request, stream bool) (request, error) {
	req, q, err := query(r, "window", "lease", "closes")
	if err != nil {
		return req, err
	}
	s, ok := q["window"]
	if !ok {
		return req, httpx.BadRequest("window: required: the window's name, 1 to %d characters from A-Z a-z 0-9 . _ : -", runs.MaxWindowLen)
	}
	if err := runs.CheckWindow(s[0]); err != nil {
		return req, httpx.BadRequest("window: must be 1 to %d characters from A-Z a-z 0-9 . _ : - (got %q)", runs.MaxWindowLen, s[0])
	}
	req.window = s[0]
	req.lease = rs.opts.DefaultLease
	if stream {
		req.lease = rs.opts.StreamLease
	}
	if s, ok := q["lease"]; ok {
		if req.lease, err = rs.parseLease(s[0]); err != nil {
			return req, err
		}
	}
	if s, ok := q["closes"]; ok {
		t, err := time.Parse(time.RFC3339Nano, s[0])
		if err != nil || t.Year() < 1970 || t.Year() > 2255 {
			return req, httpx.BadRequest("closes: %q is not a time in RFC 3339 between 1970 and 2255, such as 2026-12-08T00:00:00Z", s[0])
		}
		req.closes = t
	}
	return req, nil
}

// runRequest reads a renew's or complete's job and run_id, and with
// withStatus the status.
func runRequest(r *http.Request, withStatus bool) (request, error) {
	allowed := []string{"run_id"}
	if withStatus {
		allowed = append(allowed, "status")
	}
	req, q, err := query(r, allowed...)
	if err != nil {
		return req, err
	}
	s, ok := q["run_id"]
	if !ok || s[0] == "" {
		return req, httpx.BadRequest("run_id: required: the run_id of the claim's answer")
	}
	if !validRunID(s[0]) {
		return req, httpx.BadRequest("run_id: must be 1 to %d characters A-Z a-z 0-9 - _", maxRunID)
	}
	req.runID = s[0]
	if !withStatus {
		return req, nil
	}
	switch s := q.Get("status"); s {
	case "ok":
		req.status = runs.Succeeded
	case "failed":
		req.status = runs.Failed
	case "":
		return req, httpx.BadRequest("status: required: ok or failed")
	default:
		return req, httpx.BadRequest("status: must be ok or failed (got %q)", s)
	}
	return req, nil
}

// parseLease parses a lease parameter: a whole number of milliseconds
// between MinLease and MaxLease.
func (rs *Runs) parseLease(s string) (time.Duration, error) {
	return httpx.Leases{Min: rs.opts.MinLease, Max: rs.opts.MaxLease}.Parse(s)
}

// validRunID reports whether s is a run_id the API accepts.
func validRunID(s string) bool { return httpx.ValidToken(s, maxRunID) }
