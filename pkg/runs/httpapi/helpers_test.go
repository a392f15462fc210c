//go:build unix

package runsapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/apitest"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
	"github.com/baton-dev/baton/test/chaos"
)

// guard bounds every wait in these tests, so a broken handler fails the
// test instead of hanging it. It is never what makes a test pass.
const guard = 10 * time.Second

// follower is an api.Elector that follows another replica: the run routes
// answer whatever the election's state.
type follower struct{}

func (follower) Status() election.Status {
	return election.Status{Name: "jobs", Identity: "pod-a", Holder: "pod-b", Fence: 41, Running: true, Generation: 1}
}

func (follower) Changed() <-chan struct{} { return nil }

func (follower) Resign(context.Context, time.Duration) (bool, error) { return false, nil }

// serveAPI starts pkg/api's server with opts on a loopback port, as the
// sidecar serves it, and returns its base URL.
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

// fakeRecorder counts what the run routes record.
type fakeRecorder struct {
	mu       sync.Mutex
	requests map[string]int // "op result"
}

func (r *fakeRecorder) RunRequest(op, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[op+" "+result]++
}

func (r *fakeRecorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[key]
}

// runEnv is an API with the runs on a real redis-server.
type runEnv struct {
	url string
	rdb *redis.Client
	rec *fakeRecorder
}

// newRunEnv starts Redis and the API with o (Identity "sidecar-1") and
// opts (the run routes are added to opts.Routes here).
func newRunEnv(t *testing.T, o runsapi.Options, opts api.Options) *runEnv {
	t.Helper()
	srv := redistest.Start(t)
	return newRunEnvOn(t, srv.Client(), srv.Client(), o, opts)
}

// newProxiedRunEnv is newRunEnv with the sidecar's Redis calls through a
// fault proxy, each cut after 300ms; e.rdb still reaches Redis straight.
func newProxiedRunEnv(t *testing.T, o runsapi.Options) (*runEnv, *chaos.Proxy) {
	t.Helper()
	srv := redistest.Start(t)
	p, err := chaos.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	o.AttemptTimeout = 300 * time.Millisecond
	return newRunEnvOn(t, c, srv.Client(), o, api.Options{}), p
}

func newRunEnvOn(t *testing.T, c, direct *redis.Client, o runsapi.Options, opts api.Options) *runEnv {
	t.Helper()
	o.Identity = "sidecar-1"
	rec := &fakeRecorder{requests: map[string]int{}}
	o.Recorder = rec
	rs, err := runsapi.NewRedisRuns(c, o)
	if err != nil {
		t.Fatal(err)
	}
	opts.Routes = append(opts.Routes, rs)
	return &runEnv{url: serveAPI(t, opts), rdb: direct, rec: rec}
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

// call sends method path and wants code; it returns the body.
func (e *runEnv) call(t *testing.T, method, path string, want int) string {
	t.Helper()
	resp, body := apitest.Do(t, method, e.url+path, "", "", nil)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s; want %d", method, path, resp.StatusCode, body, want)
	}
	return body
}

// claim claims path (/runs/{job}/claim?...) and wants 200.
func (e *runEnv) claim(t *testing.T, path string) runsapi.RunBody {
	t.Helper()
	b := decode[runsapi.RunBody](t, e.call(t, http.MethodPost, path, http.StatusOK))
	if b.RunID == "" || b.Fence == 0 || b.LeaseMS <= 0 || b.Attempt < 1 {
		t.Fatalf("POST %s = %+v; want a run_id, a fence, a lease and an attempt", path, b)
	}
	return b
}

// refused claims path and wants a 409 with state.
func (e *runEnv) refused(t *testing.T, path, state string) runsapi.ConflictBody {
	t.Helper()
	c := decode[runsapi.ConflictBody](t, e.call(t, http.MethodPost, path, http.StatusConflict))
	if c.State != state || c.Error == "" {
		t.Fatalf("POST %s = 409 %+v; want state %s", path, c, state)
	}
	return c
}

func (e *runEnv) inspect(t *testing.T, job string) runsapi.InfoBody {
	t.Helper()
	return decode[runsapi.InfoBody](t, e.call(t, http.MethodGet, "/runs/"+job, http.StatusOK))
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

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s = %s; want it to contain %q", what, s, sub)
		}
	}
}
