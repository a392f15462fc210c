//go:build unix

package runsapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/apitest"
	"github.com/baton-dev/baton/pkg/api"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// runStream is an open POST /runs/{job}/stream.
type runStream struct {
	cancel context.CancelFunc
	events <-chan runsapi.RunEvent
}

// openStream opens a stream and wants 200; it delivers the events.
func (e *runEnv) openStream(t *testing.T, path string) *runStream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("POST %s: %v", path, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %d; want 200", path, resp.StatusCode)
	}
	events := make(chan runsapi.RunEvent, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var ev runsapi.RunEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = runsapi.RunEvent{Event: "bad line: " + sc.Text()}
			}
			events <- ev
		}
	}()
	return &runStream{cancel: cancel, events: events}
}

// next returns the stream's next event other than keepalive.
func (s *runStream) next(t *testing.T) runsapi.RunEvent {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.Event != "keepalive" {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event within %v", guard)
		}
	}
}

// ended waits for the end of the stream.
func (s *runStream) ended(t *testing.T) {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return
			}
			if ev.Event != "keepalive" {
				t.Fatalf("event %+v after the end", ev)
			}
		case <-timeout:
			t.Fatalf("stream still open after %v", guard)
		}
	}
}

// A stream's run is renewed by the watchdog while the stream is open, far
// beyond its lease; a complete call ends it with a completed event.
func TestStreamRenewsUntilComplete(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{Keepalive: 50 * time.Millisecond}, api.Options{})
	s := e.openStream(t, "/runs/j/stream?window=w&lease=600ms")
	ev := s.next(t)
	if ev.Event != "claimed" || ev.Job != "j" || ev.Window != "w" || ev.Attempt != 1 || ev.Fence == 0 || ev.LeaseMS != 600 || len(ev.RunID) != 32 {
		t.Fatalf("first event %+v; want claimed", ev)
	}
	time.Sleep(2 * time.Second) // more than three leases
	c := e.refused(t, "/runs/j/claim?window=w", "running")
	if c.Last == nil || c.Last.RunID != ev.RunID {
		t.Errorf("409 = %+v; want the stream's run", c)
	}
	e.call(t, http.MethodPost, "/runs/j/complete?status=ok&run_id="+ev.RunID, http.StatusOK)
	if done := s.next(t); done.Event != "completed" || done.Status != "succeeded" || done.RunID != ev.RunID {
		t.Errorf("event %+v; want completed, succeeded", done)
	}
	s.ended(t)
	e.refused(t, "/runs/j/claim?window=w", "succeeded")
	e.refused(t, "/runs/j/stream?window=w", "succeeded")
}

// A stream closed without a complete fails its attempt at once: the next
// claim starts the next attempt without waiting for the lease.
func TestStreamClosedWithoutCompleteFails(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{}, api.Options{})
	s := e.openStream(t, "/runs/j/stream?window=w&lease=1h")
	ev := s.next(t)
	s.cancel()
	var b runsapi.RunBody
	eventually(t, "the next attempt after the closed stream", func() bool {
		resp, body := apitest.Do(t, http.MethodPost, e.url+"/runs/j/claim?window=w", "", "", nil)
		if resp.StatusCode == http.StatusOK {
			b = decode[runsapi.RunBody](t, body)
		}
		return resp.StatusCode == http.StatusOK
	})
	if b.Attempt != 2 {
		t.Errorf("next claim %+v; want attempt 2", b)
	}
	info := e.inspect(t, "j")
	if info.LastFailure == nil || info.LastFailure.RunID != ev.RunID || info.LastFailure.Status != "failed" {
		t.Errorf("GET = %+v; want the stream's run failed", info)
	}
}

// When Redis black-holes, the watchdog gives up two thirds of a lease
// after the last renew that succeeded, and the stream says lost; once
// Redis is back, the window is claimed again.
func TestStreamLostInABlackHole(t *testing.T) {
	const lease = 900 * time.Millisecond
	e, p := newProxiedRunEnv(t, runsapi.Options{})
	s := e.openStream(t, "/runs/j/stream?window=w&lease=900ms")
	ev := s.next(t)
	p.SetBlackhole(true)
	start := time.Now()
	lost := s.next(t)
	if lost.Event != "lost" || lost.RunID != ev.RunID || lost.Error == "" {
		t.Fatalf("event %+v; want lost", lost)
	}
	if took := time.Since(start); took > lease {
		t.Errorf("lost %v into the black hole; want within the lease, %v", took, lease)
	}
	s.ended(t)
	p.SetBlackhole(false)
	eventually(t, "a claim once Redis is back", func() bool {
		resp, _ := apitest.Do(t, http.MethodPost, e.url+"/runs/j/claim?window=w", "", "", nil)
		return resp.StatusCode == http.StatusOK
	})
}
