//go:build unix

package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
	"github.com/baton-dev/baton/pkg/redislock"
)

// One lock through its whole life: acquire, a refused second acquire that
// names the holder, renew, release twice, and a new holder with a larger
// fence.
func TestLockAcquireRenewRelease(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	resp, body := do(t, http.MethodPost, e.url+"/locks/stock-42?lease=10s", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("acquire = %d %s", resp.StatusCode, body)
	}
	a := decode[httpapi.LockBody](t, body)
	if a.Name != "stock-42" || a.LeaseMS != 10000 || a.Fence == 0 || len(a.Token) != 32 {
		t.Fatalf("acquire = %+v", a)
	}
	if got := resp.Header.Get("X-Baton-Fence"); got != strconv.FormatUint(a.Fence, 10) {
		t.Errorf("X-Baton-Fence = %q; want %d", got, a.Fence)
	}
	if !e.exists(t, leaseKey("stock-42")) {
		t.Fatalf("no %s in Redis while held", leaseKey("stock-42"))
	}
	pttl, err := e.rdb.PTTL(t.Context(), leaseKey("stock-42")).Result()
	if err != nil || pttl <= 0 || pttl > 10*time.Second {
		t.Fatalf("lease PTTL = %v, %v; want within 10s", pttl, err)
	}

	c := decode[httpapi.LockConflictBody](t, e.call(t, http.MethodPost, "/locks/stock-42", http.StatusConflict))
	if c.Holder == nil || c.Holder.Identity != "sidecar-1" || c.Holder.Fence != a.Fence || c.Holder.RemainingMS <= 0 {
		t.Errorf("409 = %+v; want the holder", c)
	}
	mustContain(t, "409 error", c.Error, "stock-42")

	r := decode[httpapi.LockBody](t, e.call(t, http.MethodPost, "/locks/stock-42/renew?token="+a.Token, http.StatusOK))
	if r != a {
		t.Errorf("renew = %+v; want %+v", r, a)
	}
	e.call(t, http.MethodPost, "/locks/stock-42/renew?token=0123456789abcdef0123456789abcdef", http.StatusConflict)
	// The token names another lock's holding: not this one's owner.
	e.call(t, http.MethodDelete, "/locks/other?token="+a.Token, http.StatusConflict)

	for range 2 {
		rel := decode[httpapi.LockReleasedBody](t, e.call(t, http.MethodDelete, "/locks/stock-42?token="+a.Token, http.StatusOK))
		if !rel.Released {
			t.Errorf("DELETE = %+v", rel)
		}
	}
	if e.exists(t, leaseKey("stock-42")) {
		t.Error("lease still in Redis after DELETE")
	}
	e.call(t, http.MethodPost, "/locks/stock-42/renew?token="+a.Token, http.StatusConflict)
	b := e.acquire(t, "/locks/stock-42")
	if b.Fence <= a.Fence || b.Token == a.Token || b.LeaseMS != httpapi.DefaultLockLease.Milliseconds() {
		t.Errorf("next holder %+v after %+v", b, a)
	}
	if n := e.rec.count("lock acquire conflict"); n != 1 {
		t.Errorf("recorded %d conflicting acquires; want 1", n)
	}
	if n := e.locks.Held(); n != 1 {
		t.Errorf("Held = %d; want 1", n)
	}
}

// A waiter with ?wait= gets the lock as soon as the holder releases it.
func TestLockWaitGetsTheReleasedLock(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	a := e.acquire(t, "/locks/w?lease=1h")
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post(e.url+"/locks/w?wait=1m&lease=1h", "", nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		got <- result{code: resp.StatusCode}
	}()
	e.awaitSubscribers(t, httpapi.DefaultLocksPrefix+":{w}:released", 1)
	e.call(t, http.MethodDelete, "/locks/w?token="+a.Token, http.StatusOK)
	select {
	case r := <-got:
		if r.err != nil || r.code != http.StatusOK {
			t.Fatalf("waiter = %+v; want 200", r)
		}
	case <-time.After(guard):
		t.Fatal("the waiter did not get the released lock")
	}
}

// A wait that runs out answers 409 with the holder.
func TestLockWaitRunsOut(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	a := e.acquire(t, "/locks/w?lease=1h")
	c := decode[httpapi.LockConflictBody](t, e.call(t, http.MethodPost, "/locks/w?wait=20ms", http.StatusConflict))
	if c.Holder == nil || c.Holder.Fence != a.Fence {
		t.Errorf("409 = %+v; want the holder with fence %d", c, a.Fence)
	}
}

// Every bad parameter gets a 400 that names it, and nothing reaches Redis.
func TestLockBadParameters(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	long := strings.Repeat("n", redislock.MaxNameLen+1)
	tok := "0123456789abcdef0123456789abcdef"
	tests := []struct {
		method, path, body string
		want               string
	}{
		{"POST", "/locks/" + long, "", "name: "},
		{"POST", "/locks/a%7Bb%7D", "", "name: "},
		{"POST", "/locks/a%3Ab", "", "name: "},
		{"POST", "/locks/a?wait=banana", "", "wait: "},
		{"POST", "/locks/a?wait=-1s", "", "wait: "},
		{"POST", "/locks/a?wait=6m", "", "wait: "},
		{"POST", "/locks/a?lease=1ms", "", "lease: "},
		{"POST", "/locks/a?lease=2h", "", "lease: "},
		{"POST", "/locks/a?lease=10.5ms", "", "lease: "},
		{"POST", "/locks/a?lease=x", "", "lease: "},
		{"POST", "/locks/a?fair=maybe", "", "fair: "},
		{"POST", "/locks/a?permits=3", "", `"permits"`},
		{"POST", "/locks/a?wait=1s&wait=2s", "", "wait: given 2 times"},
		{"POST", "/locks/a?color=red", "", `"color"`},
		{"POST", "/locks/a", "{}", "request body"},
		{"POST", "/locks/a/stream?lease=1ms", "", "lease: "},
		{"POST", "/locks/a/stream?wait=x", "", "wait: "},
		{"POST", "/locks/a/renew", "", "token: "},
		{"POST", "/locks/a/renew?token=", "", "token: "},
		{"POST", "/locks/a/renew?token=a%20b", "", "token: "},
		{"POST", "/locks/a/renew?token=" + strings.Repeat("a", 129), "", "token: "},
		{"DELETE", "/locks/a", "", "token: "},
		{"DELETE", "/locks/a?token=x.y", "", "token: "},
		{"DELETE", "/locks/" + long + "?token=" + tok, "", "name: "},
		{"GET", "/locks/" + long, "", "name: "},
		{"GET", "/locks/a?wait=1s", "", `"wait"`},
		{"POST", "/semaphores/s", "", "permits: "},
		{"POST", "/semaphores/s?permits=0", "", "permits: "},
		{"POST", "/semaphores/s?permits=10001", "", "permits: "},
		{"POST", "/semaphores/s?permits=x", "", "permits: "},
		{"POST", "/semaphores/s?permits=3&lease=0s", "", "lease: "},
		{"POST", "/semaphores/s/stream?permits=-1", "", "permits: "},
		{"POST", "/semaphores/" + long + "?permits=3", "", "name: "},
		{"GET", "/semaphores/s", "", "permits: "},
		{"DELETE", "/semaphores/s", "", "token: "},
		{"POST", "/semaphores/s/renew?token=%00", "", "token: "},
	}
	before, err := redistest.CommandCalls(t.Context(), e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			ct := ""
			if tt.body != "" {
				ct = "application/json"
			}
			resp, body := do(t, tt.method, e.url+tt.path, ct, tt.body, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%d %s; want 400", resp.StatusCode, body)
			}
			mustContain(t, "error", decode[api.ErrorBody](t, body).Error, tt.want)
		})
	}
	after, err := redistest.CommandCalls(t.Context(), e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	// The INFO of the first read is the only command in between.
	after["info"]--
	for cmd, n := range after {
		if n != before[cmd] {
			t.Errorf("Redis saw %d more %s calls during the bad requests", n-before[cmd], cmd)
		}
	}
	if n, err := e.rdb.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE = %d, %v; want 0", n, err)
	}
	if n := e.rec.count("lock acquire bad_request"); n == 0 {
		t.Error("bad requests not recorded")
	}
}

// The lock keys lie under their own prefix: a lock named like the
// election's is not the election's.
func TestLockKeysNeverCollideWithElection(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{})
	elec, err := redislock.New(e.rdb, "job", redislock.Options{Prefix: redislock.DefaultPrefix})
	if err != nil {
		t.Fatal(err)
	}
	// A known store: the election's first term does not wait out a TTL.
	redistest.KnownStore(t, e.rdb, keyOf(redislock.DefaultPrefix, "job", "term"))
	m, err := elec.TryAcquire(t.Context(), "elector", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(context.Background())
	a := e.acquire(t, "/locks/job?lease=1h")
	lease := keyOf(redislock.DefaultPrefix, "job", "lease")
	if lease == leaseKey("job") || !e.exists(t, lease) || !e.exists(t, leaseKey("job")) {
		t.Errorf("election key %s and lock key %s", lease, leaseKey("job"))
	}
	e.call(t, http.MethodDelete, "/locks/job?token="+a.Token, http.StatusOK)
	if !e.exists(t, lease) {
		t.Error("releasing the application's lock removed the election's")
	}
}

// MaxHeld bounds the holdings; a 503 names the bound; a release, or a
// lease that ran out, makes room.
func TestLockMaxHeld(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	e := newLockEnv(t, httpapi.LocksOptions{MaxHeld: 2, Now: clock.Now}, api.Options{})
	a := e.acquire(t, "/locks/a?lease=1h")
	e.acquire(t, "/locks/b?lease=100ms")
	resp, body := do(t, http.MethodPost, e.url+"/locks/c", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third acquire = %d %s; want 503 with Retry-After", resp.StatusCode, body)
	}
	mustContain(t, "503", body, "at most 2", "--locks-max-held")
	e.call(t, http.MethodPost, "/locks/c/stream", http.StatusServiceUnavailable)
	if e.exists(t, leaseKey("c")) {
		t.Error("a refused acquire reached Redis")
	}

	e.call(t, http.MethodDelete, "/locks/a?token="+a.Token, http.StatusOK)
	d := e.acquire(t, "/locks/d?lease=1h")
	e.call(t, http.MethodPost, "/locks/c", http.StatusServiceUnavailable)
	// b's lease has surely run out once its TTL has passed since its
	// acquire returned: it stops counting.
	clock.Add(100 * time.Millisecond)
	e.acquire(t, "/locks/c?lease=1h")
	if n := e.locks.Held(); n != 2 {
		t.Errorf("Held = %d; want 2", n)
	}
	if n := e.rec.heldNow(); n != 2 {
		t.Errorf("recorded %d held; want 2", n)
	}
	_ = d
}

// A renew after the lease ran out locally is refused: the holding is
// gone, whatever Redis still shows.
func TestLockRenewAfterLeaseRanOut(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	e := newLockEnv(t, httpapi.LocksOptions{Now: clock.Now}, api.Options{})
	a := e.acquire(t, "/locks/r?lease=1h")
	clock.Add(30 * time.Minute)
	e.call(t, http.MethodPost, "/locks/r/renew?token="+a.Token, http.StatusOK)
	clock.Add(59 * time.Minute)
	e.call(t, http.MethodPost, "/locks/r/renew?token="+a.Token, http.StatusOK)
	clock.Add(time.Hour)
	e.call(t, http.MethodPost, "/locks/r/renew?token="+a.Token, http.StatusConflict)
	e.call(t, http.MethodDelete, "/locks/r?token="+a.Token, http.StatusConflict)
}

// A waiting acquire whose client goes away gives its place back and
// leaves no lock.
func TestLockWaiterGoesAway(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{MaxHeld: 2}, api.Options{})
	a := e.acquire(t, "/locks/g?lease=1h")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/locks/g?wait=1m", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	e.awaitSubscribers(t, httpapi.DefaultLocksPrefix+":{g}:released", 1)
	// Full: the holder and the waiter.
	e.call(t, http.MethodPost, "/locks/other", http.StatusServiceUnavailable)
	cancel()
	<-done
	// The waiter's subscription ends with its request.
	start := time.Now()
	for {
		m, err := e.rdb.PubSubNumSub(t.Context(), httpapi.DefaultLocksPrefix+":{g}:released").Result()
		if err != nil {
			t.Fatal(err)
		}
		if m[httpapi.DefaultLocksPrefix+":{g}:released"] == 0 {
			break
		}
		if time.Since(start) > guard {
			t.Fatal("the waiter still waits after its client went away")
		}
		time.Sleep(time.Millisecond)
	}
	for time.Since(start) < guard {
		if resp, _ := do(t, http.MethodPost, e.url+"/locks/other?lease=1h", "", "", nil); resp.StatusCode == http.StatusOK {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if n := e.locks.Held(); n != 2 {
		t.Errorf("Held = %d; want 2 (g and other)", n)
	}
	e.call(t, http.MethodDelete, "/locks/g?token="+a.Token, http.StatusOK)
}

// The lock routes keep /leader's guards: Host, and the token on every
// call that changes state; GET needs none.
func TestLockGuards(t *testing.T) {
	e := newLockEnv(t, httpapi.LocksOptions{}, api.Options{Token: "s3cret"})
	for _, c := range []struct{ method, path string }{
		{"POST", "/locks/a"}, {"POST", "/locks/a/renew?token=t"}, {"DELETE", "/locks/a?token=t"},
		{"POST", "/locks/a/stream"}, {"POST", "/semaphores/s?permits=2"},
	} {
		resp, body := do(t, c.method, e.url+c.path, "", "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without the token = %d %s; want 401", c.method, c.path, resp.StatusCode, body)
		}
	}
	auth := http.Header{"Authorization": {"Bearer s3cret"}}
	resp, body := do(t, http.MethodPost, e.url+"/locks/a?lease=1h", "", "", auth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the token: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, http.MethodGet, e.url+"/locks/a", "", "", http.Header{"Host": {"attacker.example"}})
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host = %d %s; want 421", resp.StatusCode, body)
	}
	resp, _ = do(t, http.MethodPut, e.url+"/locks/a", "", "", auth)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("PUT = %d, Allow %q; want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// Without the lock routes in Options.Routes they do not exist.
func TestLockRoutesNeedLocks(t *testing.T) {
	url := serveAPI(t, api.Options{})
	resp, _ := do(t, http.MethodPost, url+"/locks/a", "", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /locks/a without Locks = %d; want 404", resp.StatusCode)
	}
}
