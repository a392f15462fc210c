package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
)

func TestLeader(t *testing.T) {
	inHoldOff := follower()
	inHoldOff.Holder, inHoldOff.Fence = "", 0
	inHoldOff.HoldOff = 1500*time.Millisecond + time.Microsecond
	inHoldOff.LastError = "dial tcp: connection refused"

	tests := []struct {
		name   string
		st     election.Status
		method string
		code   int
		body   string
	}{
		{
			name: "leader", st: leader(), method: http.MethodGet, code: http.StatusOK,
			body: `{"leader":true,"identity":"pod-a","holder":"pod-a","fence":42,"remaining_ms":9000,` +
				`"term_start":"2025-01-02T02:04:05.000000006Z","lock":"jobs"}`,
		},
		{
			name: "follower", st: follower(), method: http.MethodGet, code: http.StatusServiceUnavailable,
			body: `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs"}`,
		},
		{
			name: "hold-off and error", st: inHoldOff, method: http.MethodGet, code: http.StatusServiceUnavailable,
			body: `{"leader":false,"identity":"pod-a","holder":"","remaining_ms":0,"lock":"jobs",` +
				`"hold_off_ms":1501,"last_error":"dial tcp: connection refused"}`,
		},
		{name: "HEAD leader", st: leader(), method: http.MethodHead, code: http.StatusOK},
		{name: "HEAD follower", st: follower(), method: http.MethodHead, code: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, newFake(tt.st), api.Options{})
			resp, body := do(t, tt.method, srv.URL+"/leader", "", "", nil)
			if resp.StatusCode != tt.code {
				t.Errorf("status = %d; want %d", resp.StatusCode, tt.code)
			}
			if got := strings.TrimSuffix(body, "\n"); got != tt.body {
				t.Errorf("body =\n%s\nwant\n%s", got, tt.body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", cc)
			}
		})
	}
}

func TestLeaderBadQuery(t *testing.T) {
	srv := serve(t, newFake(leader()), api.Options{MaxWait: time.Minute})
	tests := []struct {
		query string
		want  string // in the error message
	}{
		{"wait=soon", `wait: "soon" is not a duration`},
		{"wait=", `wait: "" is not a duration`},
		{"wait=30", `wait: "30" is not a duration`},
		{"wait=-1s", "wait: must not be negative"},
		{"wait=61s", "wait: must be at most 1m0s"},
		{"wait=1s&wait=2s", "wait: given 2 times"},
		{"timeout=1s", `unknown query parameter "timeout"`},
		{"wait=1s&verbose", `unknown query parameter "verbose"`},
		{"wait=%zz", "query:"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, srv.URL+"/leader?"+tt.query, "", "", nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d; want 400 (body %s)", resp.StatusCode, body)
			}
			if !strings.HasPrefix(body, `{"error":"`) || !strings.Contains(body, jsonEscape(tt.want)) {
				t.Errorf("body = %s; want an error containing %q", body, tt.want)
			}
		})
	}
}

// jsonEscape escapes s as encoding/json would inside a string, for the
// characters these tests use.
func jsonEscape(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }

func TestLongPollBecomesLeader(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, api.Options{})
	done := getAsync(t.Context(), srv.URL+"/leader?wait=5m")

	// The handler has read a follower status and waits: now win.
	f.awaitRead(t, 1)
	st := leader()
	st.Generation = 2
	f.set(st)

	r := await(t, done)
	if r.err != nil || r.code != http.StatusOK || !strings.Contains(r.body, `"leader":true`) || !strings.Contains(r.body, `"fence":42`) {
		t.Fatalf("long-poll = %d %s %v; want 200 with the leader's body", r.code, r.body, r.err)
	}
}

func TestLongPollChangeWithoutLeadership(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, api.Options{})
	done := getAsync(t.Context(), srv.URL+"/leader?wait=5m")

	// A change that is not leadership keeps the poll waiting ...
	f.awaitRead(t, 1)
	st := follower()
	st.Holder, st.Generation = "pod-c", 2
	f.set(st)
	f.awaitRead(t, 2)
	select {
	case r := <-done:
		t.Fatalf("long-poll returned %d %s %v on a change of holder", r.code, r.body, r.err)
	default:
	}
	// ... and leadership ends it.
	st = leader()
	st.Generation = 3
	f.set(st)
	if r := await(t, done); r.err != nil || r.code != http.StatusOK {
		t.Fatalf("long-poll = %d %v; want 200", r.code, r.err)
	}
}

func TestLongPollTimesOut(t *testing.T) {
	srv := serve(t, newFake(follower()), api.Options{})
	resp, body := do(t, http.MethodGet, srv.URL+"/leader?wait=50ms", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d; want 503", resp.StatusCode)
	}
	want := `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs"}` + "\n"
	if body != want {
		t.Errorf("body = %s; want %s", body, want)
	}
}

func TestLongPollAlreadyLeader(t *testing.T) {
	srv := serve(t, newFake(leader()), api.Options{})
	resp, _ := do(t, http.MethodGet, srv.URL+"/leader?wait=5m", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d; want 200", resp.StatusCode)
	}
}

func TestLongPollClientGoesAway(t *testing.T) {
	f := newFake(follower())
	srv := newServer(t, f, api.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := getAsync(ctx, srv.URL+"/leader?wait=5m")
	f.awaitRead(t, 1)
	cancel()
	if r := await(t, done); r.err == nil {
		t.Fatalf("request = %d; want it cancelled", r.code)
	}
	closeWithin(t, srv)
}

// Renewals of the holder elsewhere, and bookkeeping StatusBody does not
// show, leave a long-poll waiting: it answers leadership, nothing else.
func TestLongPollIgnoresRenewals(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, api.Options{})
	done := getAsync(t.Context(), srv.URL+"/leader?wait=5m")
	f.awaitRead(t, 1)
	gen := uint64(1)
	for i := range 10 {
		st := follower()
		gen++
		st.Generation = gen
		if i%3 == 0 {
			st.LastStepDown, st.LastStepDownFence = election.ReasonLost, 40
		}
		f.set(st)
		f.awaitRead(t, gen)
	}
	select {
	case r := <-done:
		t.Fatalf("long-poll answered %d %s %v on a renewal", r.code, r.body, r.err)
	default:
	}
	st := leader()
	st.Generation = gen + 1
	f.set(st)
	if r := await(t, done); r.err != nil || r.code != http.StatusOK {
		t.Fatalf("long-poll = %d %v; want 200", r.code, r.err)
	}
}
