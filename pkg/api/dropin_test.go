package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
)

// electorBody decodes a drop-in body strictly: nais/elector's two fields
// and no others.
func electorBody(t *testing.T, data string) api.ElectorBody {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	var b api.ElectorBody
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("body %s: %v", data, err)
	}
	return b
}

// checkLastUpdate fails unless b.LastUpdate is RFC 3339 in UTC, whole
// seconds, within [from, to].
func checkLastUpdate(t *testing.T, b api.ElectorBody, from, to time.Time) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, b.LastUpdate)
	if err != nil || !strings.HasSuffix(b.LastUpdate, "Z") || strings.Contains(b.LastUpdate, ".") {
		t.Fatalf("last_update %q: want RFC 3339 in UTC, whole seconds (%v)", b.LastUpdate, err)
	}
	if at.Before(from.Truncate(time.Second)) || at.After(to) {
		t.Fatalf("last_update %v; want within [%v, %v]", at, from, to)
	}
	return at
}

func TestElectorGet(t *testing.T) {
	tests := []struct {
		name string
		st   func() election.Status
		want string // the name; "" for {}
	}{
		{"leader names itself", leader, "pod-a"},
		{"follower names the leader", follower, "pod-b"},
		{"no leader known", func() election.Status { s := follower(); s.Holder, s.Fence = "", 0; return s }, ""},
		{"own name, term not valid", func() election.Status { s := follower(); s.Holder = "pod-a"; return s }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, newFake(tt.st()), api.Options{})
			from := time.Now()
			resp, data := do(t, http.MethodGet, srv.URL+"/", "", "", nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET / = %d %s %s; want 200 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), data)
			}
			b := electorBody(t, data)
			if b.Name != tt.want {
				t.Fatalf("GET / = %s; want name %q", data, tt.want)
			}
			if tt.want == "" {
				if strings.TrimSpace(data) != "{}" {
					t.Fatalf("GET / = %s; want {} while no leader is known", data)
				}
				return
			}
			checkLastUpdate(t, b, from, time.Now())
		})
	}
}

// last_update is when the sidecar first reported the leader: renewals
// leave it, a new leader moves it.
func TestElectorGetLastUpdate(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	set := func(t time.Time) { clock.Store(&t) }
	set(time.Date(2026, 12, 7, 11, 0, 0, 999_000_000, time.FixedZone("CET", 3600)))
	api.SetNow(t, func() time.Time { return *clock.Load() })
	f := newFake(follower())
	srv := serve(t, f, api.Options{})
	get := func() string {
		t.Helper()
		resp, data := do(t, http.MethodGet, srv.URL+"/", "", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET / = %d %s", resp.StatusCode, data)
		}
		return strings.TrimSpace(data)
	}
	steps := []struct {
		name  string
		clock time.Time
		st    func() election.Status
		want  string
	}{
		{"first read", time.Time{}, follower, `{"name":"pod-b","last_update":"2026-12-07T10:00:00Z"}`},
		{"a renewal, later", time.Date(2026, 12, 7, 10, 0, 5, 0, time.UTC),
			func() election.Status { s := follower(); s.Fence = 50; return s },
			`{"name":"pod-b","last_update":"2026-12-07T10:00:00Z"}`},
		{"a new leader", time.Date(2026, 12, 7, 10, 0, 7, 0, time.UTC),
			func() election.Status { s := follower(); s.Holder = "pod-c"; return s },
			`{"name":"pod-c","last_update":"2026-12-07T10:00:07Z"}`},
		{"no leader", time.Date(2026, 12, 7, 10, 0, 9, 0, time.UTC),
			func() election.Status { s := follower(); s.Holder, s.Fence = "", 0; return s }, `{}`},
		{"the same leader again", time.Date(2026, 12, 7, 10, 0, 11, 0, time.UTC),
			func() election.Status { s := follower(); s.Holder = "pod-c"; return s },
			`{"name":"pod-c","last_update":"2026-12-07T10:00:11Z"}`},
	}
	for i, s := range steps {
		if !s.clock.IsZero() {
			set(s.clock)
		}
		st := s.st()
		st.Generation = uint64(i + 1)
		f.set(st)
		if got := get(); got != s.want {
			t.Fatalf("%s: GET / = %s; want %s", s.name, got, s.want)
		}
	}
}

// The drop-in's routes answer as the rest of the API: the Host guard,
// reads without a token, 405 for wrong methods, 400 for unknown
// parameters, and only "/" itself besides /sse.
func TestElectorRoutes(t *testing.T) {
	srv := serve(t, newFake(follower()), api.Options{Token: "s3cret", HeartbeatInterval: time.Hour})
	tests := []struct {
		name, method, path string
		hdr                http.Header
		code               int
		allow              string
	}{
		{"GET / without the token", "GET", "/", nil, http.StatusOK, ""},
		{"HEAD /", "HEAD", "/", nil, http.StatusOK, ""},
		{"HEAD /sse", "HEAD", "/sse", nil, http.StatusOK, ""},
		{"cross-site read", "GET", "/", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusOK, ""},
		{"POST /", "POST", "/", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE /", "DELETE", "/", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST /sse", "POST", "/sse", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"unknown parameter on /", "GET", "/?since=3", nil, http.StatusBadRequest, ""},
		{"unknown parameter on /sse", "GET", "/sse?since=3", nil, http.StatusBadRequest, ""},
		{"foreign host on /", "GET", "/", http.Header{"Host": {"attacker.example"}}, http.StatusMisdirectedRequest, ""},
		{"foreign host on /sse", "GET", "/sse", http.Header{"Host": {"attacker.example"}}, http.StatusMisdirectedRequest, ""},
		{"other paths stay unknown", "GET", "/index.html", nil, http.StatusNotFound, ""},
		{"below /sse", "GET", "/sse/x", nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, srv.URL+tt.path, "", "", tt.hdr)
			if resp.StatusCode != tt.code || resp.Header.Get("Allow") != tt.allow {
				t.Fatalf("%s %s = %d Allow %q %s; want %d Allow %q", tt.method, tt.path,
					resp.StatusCode, resp.Header.Get("Allow"), body, tt.code, tt.allow)
			}
			if tt.code >= 400 && !strings.Contains(body, `"error"`) {
				t.Fatalf("%s %s = %s; want an ErrorBody", tt.method, tt.path, body)
			}
		})
	}
}

// nextData returns the data of the next event of a /sse stream, which has
// nais/elector's shape: a data line alone.
func nextData(t *testing.T, items <-chan sseItem) api.ElectorBody {
	t.Helper()
	it := next(t, items)
	if it.id != "" || it.event != "" || it.comment != "" || it.data == "" {
		t.Fatalf("got %+v; want a data line alone", it)
	}
	return electorBody(t, it.data)
}

func TestElectorSSE(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, noHeartbeat)
	resp, items := streamPath(t, t.Context(), srv.URL, "/sse")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q; want text/event-stream", ct)
	}
	if b := nextData(t, items); b.Name != "pod-b" || b.LastUpdate == "" {
		t.Fatalf("first event = %+v; want pod-b at connect", b)
	}
	gen := uint64(1)
	steps := []struct {
		name  string
		st    func() election.Status
		event bool
		want  string // the event's name
	}{
		{"renewal of the leader", func() election.Status { s := follower(); s.Fence = 50; return s }, false, ""},
		{"hold-off starts", func() election.Status { s := follower(); s.HoldOff = time.Second; return s }, false, ""},
		{"error", func() election.Status { s := follower(); s.LastError = "timeout"; return s }, false, ""},
		{"leader gone", func() election.Status { s := follower(); s.Holder, s.Fence = "", 0; return s }, true, ""},
		{"new leader", func() election.Status { s := follower(); s.Holder = "pod-c"; return s }, true, "pod-c"},
		{"this replica leads", leader, true, "pod-a"},
		{"its renewal", func() election.Status { s := leader(); s.Remaining = 3 * time.Second; return s }, false, ""},
		{"it resigns, pod-b takes over", follower, true, "pod-b"},
	}
	// Events come in order: a change that makes none shows as the next
	// event being the following change's.
	for _, s := range steps {
		gen++
		st := s.st()
		st.Generation = gen
		f.set(st)
		f.awaitRead(t, gen)
		if !s.event {
			continue
		}
		if b := nextData(t, items); b.Name != s.want || (s.want == "") != (b.LastUpdate == "") {
			t.Fatalf("after %q: event %+v; want name %q", s.name, b, s.want)
		}
	}
}

// This replica's term runs out before the elector announces it: the
// stream notices by itself, and the name goes.
func TestElectorSSETermRunsOut(t *testing.T) {
	st := leader()
	st.Remaining = 30 * time.Millisecond
	f := newFake(st)
	srv := serve(t, f, noHeartbeat)
	_, items := streamPath(t, t.Context(), srv.URL, "/sse")
	if b := nextData(t, items); b.Name != "pod-a" {
		t.Fatalf("first event = %+v; want pod-a", b)
	}
	st = follower()
	st.Holder, st.Fence = "", 0
	f.setQuiet(st)
	if b := nextData(t, items); b != (api.ElectorBody{}) {
		t.Fatalf("event = %+v; want {}", b)
	}
}

func TestElectorSSEHeartbeat(t *testing.T) {
	srv := serve(t, newFake(follower()), api.Options{HeartbeatInterval: 5 * time.Millisecond})
	_, items := streamPath(t, t.Context(), srv.URL, "/sse")
	nextData(t, items)
	if it := next(t, items); it.comment != "keep-alive" || it.data != "" {
		t.Fatalf("got %+v; want a keep-alive comment", it)
	}
}

// /sse and /leader/watch share Options.MaxWatchers.
func TestElectorSSEMaxWatchers(t *testing.T) {
	srv := serve(t, newFake(follower()), api.Options{MaxWatchers: 2, HeartbeatInterval: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, a := streamPath(t, ctx, srv.URL, "/sse")
	nextData(t, a)
	_, b := stream(t, t.Context(), srv.URL)
	nextEvent(t, b)
	for _, path := range []string{"/sse", "/leader/watch"} {
		resp, body := do(t, http.MethodGet, srv.URL+path, "", "", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("GET %s = %d Retry-After %q %s; want 503 busy", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if resp, _ := do(t, http.MethodGet, srv.URL+"/", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / = %d; want 200: it needs no slot", resp.StatusCode)
	}
}

// The server's base context ends every stream, as the sidecar's does at
// shutdown (http.Server.Shutdown waits for them otherwise).
func TestElectorSSEEndsAtShutdown(t *testing.T) {
	base, stop := context.WithCancel(context.Background())
	defer stop()
	url := serveWith(t, newFake(follower()), noHeartbeat, api.ServerOptions{
		BaseContext: func(net.Listener) context.Context { return base },
	})
	_, items := streamPath(t, t.Context(), url, "/sse")
	nextData(t, items)
	stop()
	select {
	case it, ok := <-items:
		if ok {
			t.Fatalf("got %+v; want the stream to end", it)
		}
	case <-time.After(guard):
		t.Fatalf("stream still open %v after the base context ended", guard)
	}
}
