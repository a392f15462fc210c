package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
)

func TestRelease(t *testing.T) {
	const noResign = -1
	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		header      http.Header
		released    bool
		err         error
		code        int
		want        string        // the body, or a part of an error body
		holdOff     time.Duration // the hold-off passed to Resign, or noResign
	}{
		{name: "default hold-off", released: true, code: 200, want: `{"released":true,"hold_off_ms":15000}`, holdOff: 15 * time.Second},
		{name: "query hold-off", query: "?hold_off=10s", released: true, code: 200, want: `{"released":true,"hold_off_ms":10000}`, holdOff: 10 * time.Second},
		{name: "zero hold-off", query: "?hold_off=0s", released: true, code: 200, want: `{"released":true,"hold_off_ms":0}`, holdOff: 0},
		{name: "not leading", query: "?hold_off=1m", released: false, code: 200, want: `{"released":false,"hold_off_ms":60000}`, holdOff: time.Minute},
		{name: "JSON hold-off", contentType: "application/json", body: `{"hold_off":"2.5s"}`, released: true, code: 200, want: `{"released":true,"hold_off_ms":2500}`, holdOff: 2500 * time.Millisecond},
		{name: "JSON with charset", contentType: "application/json; charset=utf-8", body: `{"hold_off":"0s"}`, code: 200, want: `{"released":false,"hold_off_ms":0}`, holdOff: 0},
		{name: "empty JSON object", contentType: "application/json", body: `{}`, code: 200, want: `"hold_off_ms":15000`, holdOff: 15 * time.Second},
		{name: "empty body, JSON type", contentType: "application/json", body: "", code: 200, want: `"hold_off_ms":15000`, holdOff: 15 * time.Second},
		{name: "empty body, form type", contentType: "application/x-www-form-urlencoded", body: "", code: 200, want: `"hold_off_ms":15000`, holdOff: 15 * time.Second},
		{name: "same-origin browser", header: http.Header{"Sec-Fetch-Site": {"same-origin"}}, code: 200, want: `"hold_off_ms":15000`, holdOff: 15 * time.Second},

		{name: "bad query duration", query: "?hold_off=later", code: 400, want: `hold_off: \"later\" is not a duration`, holdOff: noResign},
		{name: "negative query duration", query: "?hold_off=-1s", code: 400, want: "hold_off: must not be negative", holdOff: noResign},
		{name: "unknown query parameter", query: "?holdoff=1s", code: 400, want: `unknown query parameter \"holdoff\"`, holdOff: noResign},
		{name: "bad JSON duration", contentType: "application/json", body: `{"hold_off":"10"}`, code: 400, want: `hold_off: \"10\" is not a duration`, holdOff: noResign},
		{name: "JSON number", contentType: "application/json", body: `{"hold_off":10}`, code: 400, want: "request body:", holdOff: noResign},
		{name: "unknown JSON field", contentType: "application/json", body: `{"holdoff":"1s"}`, code: 400, want: "unknown field", holdOff: noResign},
		{name: "malformed JSON", contentType: "application/json", body: `{"hold_off":`, code: 400, want: "request body:", holdOff: noResign},
		{name: "two JSON values", contentType: "application/json", body: `{} {}`, code: 400, want: "more than one JSON value", holdOff: noResign},
		{name: "query and body", query: "?hold_off=1s", contentType: "application/json", body: `{"hold_off":"2s"}`, code: 400, want: "not both", holdOff: noResign},
		{name: "form body", contentType: "application/x-www-form-urlencoded", body: "hold_off=1s", code: 415, want: "Content-Type must be application/json", holdOff: noResign},
		{name: "body too large", contentType: "application/json", body: `{"hold_off":"1s"}` + strings.Repeat(" ", 5000), code: 413, want: "larger than 4096 bytes", holdOff: noResign},
		{name: "cross-origin browser", header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, code: 403, want: "cross-origin", holdOff: noResign},

		{name: "hold-off at the maximum", query: "?hold_off=1h", released: true, code: 200, want: `{"released":true,"hold_off_ms":3600000}`, holdOff: election.MaxHoldOff},
		{name: "query hold-off above the maximum", query: "?hold_off=1h0m0.001s", code: 400, want: "hold_off: must be at most 1h0m0s, got 1h0m0.001s", holdOff: noResign},
		{name: "JSON hold-off above the maximum", contentType: "application/json", body: `{"hold_off":"100000h"}`, code: 400, want: "hold_off: must be at most 1h0m0s, got 100000h0m0s", holdOff: noResign},

		{name: "not running", err: election.ErrNotRunning, code: 503, want: "election not running", holdOff: 15 * time.Second},
		{name: "elector refuses the hold-off", err: fmt.Errorf("%w: out of range", election.ErrInvalidHoldOff), code: 400, want: "hold_off: election: invalid hold-off: out of range", holdOff: 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(leader())
			f.released, f.err = tt.released, tt.err
			srv := serve(t, f, api.Options{})
			resp, body := do(t, http.MethodPost, srv.URL+"/leader/release"+tt.query, tt.contentType, tt.body, tt.header)
			if resp.StatusCode != tt.code {
				t.Errorf("status = %d; want %d (body %s)", resp.StatusCode, tt.code, body)
			}
			if tt.code == 200 && !strings.HasPrefix(tt.want, `"`) {
				if got := strings.TrimSuffix(body, "\n"); got != tt.want {
					t.Errorf("body = %s; want %s", got, tt.want)
				}
			} else if !strings.Contains(body, tt.want) {
				t.Errorf("body = %s; want it to contain %s", body, tt.want)
			}
			if tt.code != 200 && !strings.HasPrefix(body, `{"error":"`) {
				t.Errorf("body = %s; want a JSON error", body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			select {
			case got := <-f.resigns:
				if tt.holdOff == noResign {
					t.Errorf("Resign(%v) called; want no call", got)
				} else if got != tt.holdOff {
					t.Errorf("Resign hold-off = %v; want %v", got, tt.holdOff)
				}
			default:
				if tt.holdOff != noResign {
					t.Errorf("Resign not called; want Resign(%v)", tt.holdOff)
				}
			}
		})
	}
}

func TestReleaseDefaultHoldOffOption(t *testing.T) {
	f := newFake(leader())
	srv := serve(t, f, api.Options{DefaultHoldOff: 45 * time.Second})
	resp, body := do(t, http.MethodPost, srv.URL+"/leader/release", "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"hold_off_ms":45000`) {
		t.Fatalf("release = %d %s; want 200 with hold_off_ms 45000", resp.StatusCode, body)
	}
	if got := <-f.resigns; got != 45*time.Second {
		t.Errorf("Resign hold-off = %v; want 45s", got)
	}
}
