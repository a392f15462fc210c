//go:build unix

package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// A stream holds the lock while it is open, renewed past its TTL, with
// keepalives, and closing it releases the lock.
func TestStreamHeldWhileOpenReleasedOnClose(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{Keepalive: 50 * time.Millisecond}, api.Options{})
	s := e.openStream(t, "/locks/s/stream?lease=3s", http.StatusOK)
	if ct := s.resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type = %q", ct)
	}
	ev := s.next(t, false)
	if ev.Event != "acquired" || ev.Name != "s" || ev.Token == "" || ev.Fence == 0 || ev.LeaseMS != 3000 {
		t.Fatalf("first event = %+v", ev)
	}
	if s.resp.Header.Get("X-Baton-Fence") == "" {
		t.Error("no X-Baton-Fence")
	}
	if ev := s.next(t, true); ev.Event != "keepalive" {
		t.Fatalf("event %+v; want keepalive", ev)
	}
	// The watchdog renews: the lease's PTTL goes up again.
	first, err := e.rdb.PTTL(t.Context(), leaseKey("s")).Result()
	if err != nil || first <= 0 {
		t.Fatalf("PTTL = %v, %v", first, err)
	}
	eventually(t, "a renewal of the stream's lease", func() bool {
		d, err := e.rdb.PTTL(t.Context(), leaseKey("s")).Result()
		return err == nil && d > first
	})
	e.call(t, http.MethodPost, "/locks/s", http.StatusConflict)
	// A stream's lock is the sidecar's to renew.
	e.call(t, http.MethodPost, "/locks/s/renew?token="+ev.Token, http.StatusBadRequest)

	s.cancel()
	took := e.awaitGone(t, leaseKey("s"))
	t.Logf("FIGURE stream close to release in Redis: %v", took)
	e.acquire(t, "/locks/s")
	if n := e.rec.count("lock stream ok"); n != 1 {
		t.Errorf("recorded %d streams; want 1", n)
	}
}

// A stream that cannot take the lock within its wait answers 409, as an
// acquire does; one that waits gets it at the release.
func TestStreamWaits(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	a := e.acquire(t, "/locks/w?lease=1h")
	e.openStream(t, "/locks/w/stream?wait=10ms", http.StatusConflict)
	got := make(chan *lockStream, 1)
	go func() { got <- e.openStream(t, "/locks/w/stream?wait=1m", http.StatusOK) }()
	e.awaitSubscribers(t, httpapi.DefaultLocksPrefix+":{w}:released", 1)
	e.call(t, http.MethodDelete, "/locks/w?token="+a.Token, http.StatusOK)
	s := <-got
	if ev := s.next(t, false); ev.Event != "acquired" || ev.Fence <= a.Fence {
		t.Fatalf("event %+v; want acquired with a fence above %d", ev, a.Fence)
	}
}

// When the watchdog finds the lease gone, the stream says lost and ends.
func TestStreamLost(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	s := e.openStream(t, "/locks/l/stream?lease=300ms", http.StatusOK)
	s.next(t, false)
	if err := e.rdb.Del(t.Context(), leaseKey("l")).Err(); err != nil {
		t.Fatal(err)
	}
	ev := s.next(t, false)
	if ev.Event != "lost" || ev.Error == "" {
		t.Fatalf("event %+v; want lost with an error", ev)
	}
	s.ended(t)
	if n := e.locks.Held(); n != 0 {
		t.Errorf("Held = %d after the loss; want 0", n)
	}
}

// A DELETE with a stream's token releases its lock and ends the stream.
func TestStreamDeleted(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	s := e.openStream(t, "/locks/d/stream", http.StatusOK)
	tok := s.next(t, false).Token
	e.call(t, http.MethodDelete, "/locks/d?token="+tok, http.StatusOK)
	if ev := s.next(t, false); ev.Event != "lost" || ev.Error != "released by DELETE" {
		t.Fatalf("event %+v; want lost: released by DELETE", ev)
	}
	s.ended(t)
	if e.exists(t, leaseKey("d")) {
		t.Error("lease still in Redis")
	}
	e.call(t, http.MethodDelete, "/locks/d?token="+tok, http.StatusOK)
}

// ReleaseAll releases every holding, ends the streams and refuses new
// acquires.
func TestReleaseAll(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	a := e.acquire(t, "/locks/a?lease=1h")
	e.acquire(t, "/locks/b?lease=1h")
	s := e.openStream(t, "/locks/c/stream", http.StatusOK)
	s.next(t, false)
	n, err := e.locks.ReleaseAll(context.Background())
	if n != 3 || err != nil {
		t.Fatalf("ReleaseAll = %d, %v; want 3, nil", n, err)
	}
	if ev := s.next(t, false); ev.Event != "lost" {
		t.Fatalf("stream event %+v; want lost", ev)
	}
	s.ended(t)
	for _, name := range []string{"a", "b", "c"} {
		if e.exists(t, leaseKey(name)) {
			t.Errorf("%s still held in Redis", name)
		}
	}
	body := e.call(t, http.MethodPost, "/locks/a", http.StatusServiceUnavailable)
	mustContain(t, "acquire after ReleaseAll", body, "shutting down")
	e.call(t, http.MethodDelete, "/locks/a?token="+a.Token, http.StatusOK)
}
