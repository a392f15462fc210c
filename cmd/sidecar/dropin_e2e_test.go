//go:build unix

package main

import (
	"context"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// electorEvent is the next event of a drop-in /sse stream (see watch),
// failing on anything but nais/elector's two fields.
func electorEvent(t *testing.T, events <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("/sse ended")
		}
		for k := range ev {
			if k != "name" && k != "last_update" {
				t.Fatalf("/sse event %v has %q; want name and last_update alone", ev, k)
			}
		}
		return ev
	case <-time.After(e2eGuard):
		t.Fatalf("no /sse event within %v", e2eGuard)
		return nil
	}
}

// awaitName reads the /sse stream until an event names want; a handover
// may show {} (no leader known) on the way.
func awaitName(t *testing.T, events <-chan map[string]any, want string) map[string]any {
	t.Helper()
	for {
		ev := electorEvent(t, events)
		if ev["name"] == want {
			return ev
		}
		if ev["name"] != nil {
			t.Fatalf("/sse event %v; want %s, or {} before it", ev, want)
		}
	}
}

// checkSince fails unless ev's last_update is RFC 3339, not before since's
// second.
func checkSince(t *testing.T, ev map[string]any, since time.Time) {
	t.Helper()
	s, _ := ev["last_update"].(string)
	at, err := time.Parse(time.RFC3339, s)
	if err != nil || at.Before(since.Truncate(time.Second)) {
		t.Fatalf("last_update %q (%v); want RFC 3339, not before %v", s, err, since)
	}
}

// TestElectorDropIn: two real sidecars on Redis answer nais/elector's GET /
// and GET /sse, the follower naming the leader, and a handover reaches
// the streams of both; a sidecar that stops ends its stream.
func TestElectorDropIn(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	a := startSidecar(t, srv.Addr(), "a", "--lease-ttl", "2s")
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	mustLead(t, ctx, a)
	b := startSidecar(t, srv.Addr(), "b", "--lease-ttl", "2s")

	// GET / names the leader on both; the follower's first try, which
	// observes a, may come a moment after it is ready.
	for _, s := range []*sidecartest.Sidecar{a, b} {
		r := call(t, "GET", s.APIURL+"/")
		for r.body["name"] == nil && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond) // another process's pace
			r = call(t, "GET", s.APIURL+"/")
		}
		if r.code != 200 || r.body["name"] != "a" || r.body["last_update"] == nil || len(r.body) != 2 {
			t.Fatalf("GET / on %s = %d %s; want 200 naming a", s.Identity, r.code, r.raw)
		}
	}

	sseA := watch(t, ctx, a.APIURL+"/sse")
	sseB := watch(t, ctx, b.APIURL+"/sse")
	for _, events := range []<-chan map[string]any{sseA, sseB} {
		if ev := electorEvent(t, events); ev["name"] != "a" {
			t.Fatalf("first /sse event = %v; want a", ev)
		}
	}

	// A handover: a resigns, b takes over, and both streams say so.
	before := time.Now()
	if rel := call(t, "POST", a.APIURL+"/leader/release?hold_off=20s"); rel.code != 200 {
		t.Fatalf("POST /leader/release = %d %s", rel.code, rel.raw)
	}
	checkSince(t, awaitName(t, sseB, "b"), before)
	checkSince(t, awaitName(t, sseA, "b"), before)
	for _, s := range []*sidecartest.Sidecar{a, b} {
		if r := call(t, "GET", s.APIURL+"/"); r.code != 200 || r.body["name"] != "b" {
			t.Fatalf("GET / on %s after the handover = %d %s; want b", s.Identity, r.code, r.raw)
		}
	}

	// Shutdown ends the open stream: a stream left open would hold the
	// API server's shutdown for all of httpShutdownTimeout.
	stopped := time.Now()
	b.Stop(e2eGuard)
	if d := time.Since(stopped); d >= httpShutdownTimeout {
		t.Errorf("b took %v to stop with /sse open; want less than %v", d, httpShutdownTimeout)
	}
	for range sseB {
	}
}
