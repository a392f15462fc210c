package httpx

import (
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Query parses r's query string, which may hold only the allowed
// parameters, each at most once.
func Query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, BadRequest("query: %v", err)
	}
	for name, vs := range q {
		if !slices.Contains(allowed, name) {
			return nil, BadRequest("unknown query parameter %q", name)
		}
		if len(vs) > 1 {
			return nil, BadRequest("%s: given %d times, at most once allowed", name, len(vs))
		}
	}
	return q, nil
}

// ParseDuration parses parameter name's value s, a Go duration from 0 to
// limit (no limit when limit is 0).
func ParseDuration(name, s string, limit time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, BadRequest("%s: %q is not a duration such as 30s or 1m", name, s)
	case d < 0:
		return 0, BadRequest("%s: must not be negative, got %v", name, d)
	case limit > 0 && d > limit:
		return 0, BadRequest("%s: must be at most %v, got %v", name, limit, d)
	}
	return d, nil
}
