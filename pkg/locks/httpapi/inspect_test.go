//go:build unix

package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// GET shows the holder, its remaining time and fence, then the lock free
// with the last fence; a fair waiter shows in the queue.
func TestLockInspect(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	free := decode[httpapi.LockInfoBody](t, e.call(t, http.MethodGet, "/locks/i", http.StatusOK))
	if free != (httpapi.LockInfoBody{Name: "i"}) {
		t.Errorf("never-used lock = %+v", free)
	}
	a := e.acquire(t, "/locks/i?lease=1h")
	held := decode[httpapi.LockInfoBody](t, e.call(t, http.MethodGet, "/locks/i", http.StatusOK))
	if !held.Held || held.Holder != "sidecar-1" || held.Fence != a.Fence || held.RemainingMS <= 0 || held.RemainingMS > time.Hour.Milliseconds() || held.Queue != 0 {
		t.Errorf("held lock = %+v; want held by sidecar-1 with fence %d", held, a.Fence)
	}

	got := make(chan result, 1)
	go func() {
		resp, err := http.Post(e.url+"/locks/i?wait=1m&fair=true", "", nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{code: resp.StatusCode}
	}()
	eventually(t, "the fair waiter queued", func() bool {
		return decode[httpapi.LockInfoBody](t, e.call(t, http.MethodGet, "/locks/i", http.StatusOK)).Queue == 1
	})
	e.call(t, http.MethodDelete, "/locks/i?token="+a.Token, http.StatusOK)
	if r := <-got; r.err != nil || r.code != http.StatusOK {
		t.Fatalf("fair waiter = %+v; want 200", r)
	}
	after := decode[httpapi.LockInfoBody](t, e.call(t, http.MethodGet, "/locks/i", http.StatusOK))
	if !after.Held || after.Fence <= a.Fence || after.Queue != 0 {
		t.Errorf("after the hand-off = %+v", after)
	}
	if n := e.rec.count("lock inspect ok"); n < 4 {
		t.Errorf("recorded %d inspects; want at least 4", n)
	}
}

// A fair stream waits in the queue like a fair acquire.
func TestLockFairStream(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	a := e.acquire(t, "/locks/f?lease=1h&fair=true")
	got := make(chan *lockStream, 1)
	go func() { got <- e.openStream(t, "/locks/f/stream?wait=1m&fair=true", http.StatusOK) }()
	eventually(t, "the fair stream queued", func() bool {
		return decode[httpapi.LockInfoBody](t, e.call(t, http.MethodGet, "/locks/f", http.StatusOK)).Queue == 1
	})
	// One try does not jump the queue.
	e.call(t, http.MethodPost, "/locks/f?fair=true", http.StatusConflict)
	e.call(t, http.MethodDelete, "/locks/f?token="+a.Token, http.StatusOK)
	s := <-got
	if ev := s.next(t, false); ev.Event != "acquired" || ev.Fence <= a.Fence {
		t.Fatalf("event %+v", ev)
	}
}
