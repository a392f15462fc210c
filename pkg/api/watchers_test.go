package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
)

func TestMaxWatchers(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, api.Options{MaxWatchers: 2, HeartbeatInterval: time.Hour})
	ctxA, cancelA := context.WithCancel(t.Context())
	defer cancelA()
	// Two streams take both slots: each has its slot once its first event
	// is out.
	_, a := stream(t, ctxA, srv.URL)
	nextEvent(t, a)
	_, b := stream(t, t.Context(), srv.URL)
	nextEvent(t, b)

	busy := func(t *testing.T, method, path string) {
		t.Helper()
		resp, body := do(t, method, srv.URL+path, "", "", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
			resp.Header.Get("Content-Type") != "application/json" ||
			!strings.Contains(body, `{"error":"too many waiting clients (at most 2 long-polls and event streams); retry later"}`) {
			t.Errorf("%s %s = %d Retry-After %q %s; want 503 busy with Retry-After 1", method, path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	busy(t, http.MethodGet, "/leader/watch")
	busy(t, http.MethodGet, "/leader?wait=5m")

	// What does not wait needs no slot.
	resp, body := do(t, http.MethodGet, srv.URL+"/leader", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "" || !strings.Contains(body, `"leader":false`) {
		t.Errorf("GET /leader = %d Retry-After %q %s; want the follower's 503", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := do(t, http.MethodHead, srv.URL+"/leader/watch", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /leader/watch = %d; want 200", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodPost, srv.URL+"/leader/release", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("POST /leader/release = %d; want 200", resp.StatusCode)
	}
	f.setQuiet(leader())
	if resp, _ := do(t, http.MethodGet, srv.URL+"/leader?wait=5m", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("long-poll of a leader = %d; want 200 at once", resp.StatusCode)
	}
	f.setQuiet(follower())

	// A stream that ends frees its slot, once its handler has noticed.
	cancelA()
	deadline := time.Now().Add(guard)
	for {
		resp, body := do(t, http.MethodGet, srv.URL+"/leader?wait=1ms", "", "", nil)
		if resp.Header.Get("Retry-After") == "" {
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"leader":false`) {
				t.Fatalf("long-poll = %d %s; want the follower's 503", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot of a closed stream is still taken after %v", guard)
		}
		time.Sleep(time.Millisecond)
	}
}

// A long-poll frees its slot before it answers, so a client that polls in
// a loop never finds its own last poll in the way.
func TestLongPollFreesItsSlot(t *testing.T) {
	srv := serve(t, newFake(follower()), api.Options{MaxWatchers: 1})
	for i := range 5 {
		resp, body := do(t, http.MethodGet, srv.URL+"/leader?wait=1ms", "", "", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("poll %d = %d Retry-After %q %s; want the follower's 503", i, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}
