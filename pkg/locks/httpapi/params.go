package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/baton-dev/baton/pkg/redislock"

	"github.com/baton-dev/baton/internal/httpx"
)

// maxOwnerToken is the longest token parameter accepted; the library's
// tokens are 32 hex digits.
const maxOwnerToken = 128

// lockRequest is a lock call's parameters, checked before any Redis call.
type lockRequest struct {
	res    Resource
	params AcquireParams
	token  string
}

// resource reads the {name} of r's path, and for a semaphore with
// withPermits its permits.
func (l *Locks) resource(r *http.Request, kind Kind, q url.Values, withPermits bool) (Resource, error) {
	res := Resource{Kind: kind, Name: r.PathValue("name")}
	if err := redislock.ValidateName(res.Name); err != nil {
		return res, httpx.BadRequest("name: %v", err)
	}
	if kind == KindSemaphore && withPermits {
		s, ok := q["permits"]
		if !ok {
			return res, httpx.BadRequest("permits: required, from 1 to %d", maxPermits)
		}
		n, err := strconv.Atoi(s[0])
		switch {
		case err != nil:
			return res, httpx.BadRequest("permits: %q is not a whole number", s[0])
		case n < 1 || n > maxPermits:
			return res, httpx.BadRequest("permits: must lie between 1 and %d, got %d", maxPermits, n)
		}
		res.Permits = n
	}
	return res, nil
}

// acquireRequest reads an acquire's name, wait, lease, fair (and permits).
func (l *Locks) acquireRequest(r *http.Request, kind Kind, stream bool) (lockRequest, error) {
	allowed := []string{"wait", "lease", "fair"}
	if kind == KindSemaphore {
		allowed = append(allowed, "permits")
	}
	q, err := lockQuery(r, allowed...)
	if err != nil {
		return lockRequest{}, err
	}
	var req lockRequest
	if req.res, err = l.resource(r, kind, q, true); err != nil {
		return req, err
	}
	if s, ok := q["wait"]; ok {
		if req.params.Wait, err = httpx.ParseDuration("wait", s[0], l.opts.MaxWait); err != nil {
			return req, err
		}
	}
	req.params.Lease = l.opts.DefaultLease
	if stream {
		req.params.Lease, req.params.Watchdog = l.opts.StreamLease, true
	}
	if s, ok := q["lease"]; ok {
		if req.params.Lease, err = l.parseLease(s[0]); err != nil {
			return req, err
		}
	}
	if s, ok := q["fair"]; ok {
		if req.params.Fair, err = strconv.ParseBool(s[0]); err != nil {
			return req, httpx.BadRequest("fair: %q is not true or false", s[0])
		}
	}
	return req, nil
}

// tokenRequest reads a renew's or release's name and token.
func (l *Locks) tokenRequest(r *http.Request, kind Kind) (lockRequest, error) {
	q, err := lockQuery(r, "token")
	if err != nil {
		return lockRequest{}, err
	}
	var req lockRequest
	if req.res, err = l.resource(r, kind, q, false); err != nil {
		return req, err
	}
	s, ok := q["token"]
	if !ok || s[0] == "" {
		return req, httpx.BadRequest("token: required: the token of the acquire's answer")
	}
	if !ValidOwnerToken(s[0]) {
		return req, httpx.BadRequest("token: must be 1 to %d characters A-Z a-z 0-9 - _", maxOwnerToken)
	}
	req.token = s[0]
	return req, nil
}

// parseLease parses a lease parameter: a whole number of milliseconds
// between MinLease and MaxLease.
func (l *Locks) parseLease(s string) (time.Duration, error) {
	return httpx.Leases{Min: l.opts.MinLease, Max: l.opts.MaxLease}.Parse(s)
}

// ValidOwnerToken reports whether s is a token the API accepts: 1 to 128
// characters A-Z a-z 0-9 - _ (the library's own are 32 hex digits).
func ValidOwnerToken(s string) bool { return httpx.ValidToken(s, maxOwnerToken) }

// lockQuery is query for the lock routes, which take their parameters in
// the query only: a request body is refused rather than ignored. Reading
// it to its end also lets net/http watch the connection, so that a client
// going away ends the request's context at once.
func lockQuery(r *http.Request, allowed ...string) (url.Values, error) {
	n, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1))
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return nil, httpx.BadRequest("request body: %v", err)
	case n > 0:
		return nil, httpx.BadRequest("request body: must be empty: lock calls take their parameters in the query")
	}
	return httpx.Query(r, allowed...)
}
