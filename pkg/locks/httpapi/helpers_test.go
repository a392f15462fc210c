//go:build unix

package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/apitest"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// guard bounds every wait in these tests, so a broken handler fails the
// test instead of hanging it. It is never what makes a test pass.
const guard = 10 * time.Second

// follower is an api.Elector that follows another replica: the lock routes
// answer whatever the election's state. The real elector is tested in
// package election, the /leader routes in package api.
type follower struct{}

func (follower) Status() election.Status {
	return election.Status{
		Name: "jobs", Identity: "pod-a", Holder: "pod-b", Fence: 41,
		Running: true, Generation: 1,
	}
}

func (follower) Changed() <-chan struct{} { return nil }

func (follower) Resign(context.Context, time.Duration) (bool, error) { return false, nil }

// serveAPI starts api.NewServer(api.NewHandler(follower{}, opts)) on a
// loopback port, as the sidecar serves it, and returns its base URL; the
// server is closed when the test ends.
func serveAPI(t testing.TB, opts api.Options) string {
	t.Helper()
	h, err := api.NewHandler(follower{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(h, api.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return apitest.Serve(t, srv)
}

// result is the outcome of a request sent from another goroutine.
type result struct {
	code int
	err  error
}

// lockEnv is an API with locks on a real redis-server.
type lockEnv struct {
	url   string
	rdb   *redis.Client
	locks *httpapi.Locks
	rec   *fakeRecorder
	srv   *redistest.Server
}

// fakeClock is a clock the test moves, for the leases' local validity.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeRecorder counts what the lock routes record.
type fakeRecorder struct {
	mu       sync.Mutex
	requests map[string]int // "kind op result"
	held     int
}

func (r *fakeRecorder) LockRequest(kind, op, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[kind+" "+op+" "+result]++
}

func (r *fakeRecorder) LocksHeld(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held = n
}

func (r *fakeRecorder) heldNow() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

func (r *fakeRecorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[key]
}

// newLockEnv starts Redis and the API with lo and opts (the lock routes are
// added to opts.Routes here).
func newLockEnv(t *testing.T, lo httpapi.LocksOptions, opts api.Options) *lockEnv {
	t.Helper()
	return newLockEnvWith(t, httpapi.RedisLocksOptions{}, lo, opts)
}

// newLockEnvWith is newLockEnv with the backend's options ro (Identity is
// set here).
func newLockEnvWith(t *testing.T, ro httpapi.RedisLocksOptions, lo httpapi.LocksOptions, opts api.Options) *lockEnv {
	t.Helper()
	srv := redistest.Start(t)
	rdb := srv.Client()
	ro.Identity = "sidecar-1"
	backend, err := httpapi.NewRedisLocks(srv.Client(), ro)
	if err != nil {
		t.Fatal(err)
	}
	rec := &fakeRecorder{requests: map[string]int{}}
	if lo.Recorder == nil {
		lo.Recorder = rec
	}
	locks, err := httpapi.NewLocks(backend, lo)
	if err != nil {
		t.Fatal(err)
	}
	opts.Routes = append(opts.Routes, locks)
	url := serveAPI(t, opts)
	return &lockEnv{url: url, rdb: rdb, locks: locks, rec: rec, srv: srv}
}

// decode unmarshals body into v, failing the test on bad JSON.
func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", body, err)
	}
	return v
}

// acquire POSTs path (with its query) and wants code.
func (e *lockEnv) call(t *testing.T, method, path string, want int) string {
	t.Helper()
	resp, body := do(t, method, e.url+path, "", "", nil)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s; want %d", method, path, resp.StatusCode, body, want)
	}
	return body
}

func (e *lockEnv) acquire(t *testing.T, path string) httpapi.LockBody {
	t.Helper()
	b := decode[httpapi.LockBody](t, e.call(t, http.MethodPost, path, http.StatusOK))
	if b.Token == "" || b.Fence == 0 || b.LeaseMS <= 0 {
		t.Fatalf("POST %s = %+v; want a token, a fence and a lease", path, b)
	}
	return b
}

// exists reports whether key is in Redis.
func (e *lockEnv) exists(t *testing.T, key string) bool {
	t.Helper()
	n, err := e.rdb.Exists(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// awaitGone waits until key has left Redis, and returns how long it took.
// Redis is polled: the test reads the result, it does not race with it.
func (e *lockEnv) awaitGone(t *testing.T, key string) time.Duration {
	t.Helper()
	start := time.Now()
	for e.exists(t, key) {
		if time.Since(start) > guard {
			t.Fatalf("%s still in Redis after %v", key, guard)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// awaitSubscribers waits until channel has n subscribers: a waiter is then
// waiting.
func (e *lockEnv) awaitSubscribers(t *testing.T, channel string, n int64) {
	t.Helper()
	start := time.Now()
	for {
		m, err := e.rdb.PubSubNumSub(t.Context(), channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if m[channel] >= n {
			return
		}
		if time.Since(start) > guard {
			t.Fatalf("%s has %d subscribers after %v; want %d", channel, m[channel], guard, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// lockStream is an open POST .../stream.
type lockStream struct {
	resp   *http.Response
	cancel context.CancelFunc
	events <-chan httpapi.LockEvent
}

// openStream opens a stream and wants code; for 200 it delivers the events.
func (e *lockEnv) openStream(t *testing.T, path string, want int) *lockStream {
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
	if resp.StatusCode != want {
		t.Fatalf("POST %s = %d; want %d", path, resp.StatusCode, want)
	}
	events := make(chan httpapi.LockEvent, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var ev httpapi.LockEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = httpapi.LockEvent{Event: "bad line: " + sc.Text()}
			}
			events <- ev
		}
	}()
	return &lockStream{resp: resp, cancel: cancel, events: events}
}

// next returns the stream's next event other than keepalive unless
// keepalive is asked for.
func (s *lockStream) next(t *testing.T, wantKeepalive bool) httpapi.LockEvent {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.Event == "keepalive" && !wantKeepalive {
				continue
			}
			return ev
		case <-timeout:
			t.Fatalf("no event within %v", guard)
		}
	}
}

// ended waits for the end of the stream.
func (s *lockStream) ended(t *testing.T) {
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

// eventually polls cond until it holds, failing after guard. The test
// reads an outcome; it does not race with it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > guard {
			t.Fatalf("not within %v: %s", guard, what)
		}
	}
}

// keyOf is the key of a lock or semaphore name under prefix: suffix is
// "lease", "released", "sem:permits" and so on.
func keyOf(prefix, name, suffix string) string { return prefix + ":{" + name + "}:" + suffix }

// leaseKey is the lease key of the lock name under the API's prefix.
func leaseKey(name string) string { return keyOf(httpapi.DefaultLocksPrefix, name, "lease") }

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s = %s; want it to contain %q", what, s, sub)
		}
	}
}

// do sends a request and returns the response with its body read.
var do = apitest.Do
