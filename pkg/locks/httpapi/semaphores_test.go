//go:build unix

package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// A semaphore of 2: two permits, a third refused with a holder, renew,
// release (twice), GET with the holders, and a stream's permit.
func TestSemaphore(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	p1 := e.acquire(t, "/semaphores/pool?permits=2&lease=1h")
	p2 := e.acquire(t, "/semaphores/pool?permits=2&lease=1h")
	if p1.Token == p2.Token || p1.Fence == p2.Fence {
		t.Fatalf("two permits %+v and %+v", p1, p2)
	}
	c := decode[httpapi.LockConflictBody](t, e.call(t, http.MethodPost, "/semaphores/pool?permits=2&wait=10ms", http.StatusConflict))
	if c.Error == "" {
		t.Errorf("409 = %+v", c)
	}
	info := decode[httpapi.SemaphoreInfoBody](t, e.call(t, http.MethodGet, "/semaphores/pool?permits=2", http.StatusOK))
	if info.Name != "pool" || info.Permits != 2 || len(info.Holders) != 2 || info.Queue != 0 {
		t.Fatalf("GET = %+v", info)
	}
	for _, h := range info.Holders {
		if h.Identity != "sidecar-1" || h.RemainingMS <= 0 || (h.Fence != p1.Fence && h.Fence != p2.Fence) {
			t.Errorf("holder %+v", h)
		}
	}
	r := decode[httpapi.LockBody](t, e.call(t, http.MethodPost, "/semaphores/pool/renew?token="+p1.Token, http.StatusOK))
	if r != p1 {
		t.Errorf("renew = %+v; want %+v", r, p1)
	}
	// A lock's token is not a semaphore's, nor the other way round.
	l := e.acquire(t, "/locks/pool?lease=1h")
	e.call(t, http.MethodDelete, "/semaphores/pool?token="+l.Token, http.StatusConflict)
	e.call(t, http.MethodDelete, "/locks/pool?token="+p1.Token, http.StatusConflict)

	for range 2 {
		e.call(t, http.MethodDelete, "/semaphores/pool?token="+p1.Token, http.StatusOK)
	}
	e.call(t, http.MethodPost, "/semaphores/pool/renew?token="+p1.Token, http.StatusConflict)
	s := e.openStream(t, "/semaphores/pool/stream?permits=2", http.StatusOK)
	ev := s.next(t, false)
	if ev.Event != "acquired" || ev.Fence <= p2.Fence {
		t.Fatalf("stream event %+v", ev)
	}
	e.call(t, http.MethodPost, "/semaphores/pool?permits=2", http.StatusConflict)
	s.cancel()
	eventually(t, "the stream's permit released after its close", func() bool {
		info := decode[httpapi.SemaphoreInfoBody](t, e.call(t, http.MethodGet, "/semaphores/pool?permits=2", http.StatusOK))
		return len(info.Holders) == 1
	})
	e.acquire(t, "/semaphores/pool?permits=2")
	if n := e.rec.count("semaphore acquire ok"); n != 3 {
		t.Errorf("recorded %d semaphore acquires; want 3", n)
	}
}

// A waiter for a permit gets the one released.
func TestSemaphoreWaiter(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	p := e.acquire(t, "/semaphores/one?permits=1&lease=1h")
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post(e.url+"/semaphores/one?permits=1&wait=1m&fair=true", "", nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{code: resp.StatusCode}
	}()
	eventually(t, "the fair waiter queued", func() bool {
		info := decode[httpapi.SemaphoreInfoBody](t, e.call(t, http.MethodGet, "/semaphores/one?permits=1", http.StatusOK))
		return info.Queue == 1
	})
	e.call(t, http.MethodDelete, "/semaphores/one?token="+p.Token, http.StatusOK)
	if r := <-got; r.err != nil || r.code != http.StatusOK {
		t.Fatalf("waiter = %+v; want 200", r)
	}
}
