package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/apitest"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
)

// guard bounds every wait in these tests, so a broken handler fails the
// test instead of hanging it. It is never what makes a test pass.
const guard = 10 * time.Second

// fakeElector is an Elector whose status the test sets. The real elector
// is tested in package election.
type fakeElector struct {
	mu       sync.Mutex
	st       election.Status
	changed  chan struct{}
	released bool
	err      error

	// reads receives the Generation of each Status read, dropped when full.
	reads chan uint64
	// resigns receives the hold-off of each Resign call.
	resigns chan time.Duration
	// gate, when set, holds every Resign until it is closed.
	gate chan struct{}
}

func newFake(st election.Status) *fakeElector {
	return &fakeElector{
		st:      st,
		changed: make(chan struct{}),
		reads:   make(chan uint64, 64),
		resigns: make(chan time.Duration, 16),
	}
}

func (f *fakeElector) Status() election.Status {
	f.mu.Lock()
	st := f.st
	f.mu.Unlock()
	select {
	case f.reads <- st.Generation:
	default:
	}
	return st
}

func (f *fakeElector) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *fakeElector) Resign(_ context.Context, holdOff time.Duration) (bool, error) {
	f.resigns <- holdOff
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.released, f.err
}

// set changes the status and wakes every observer.
func (f *fakeElector) set(st election.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	close(f.changed)
	f.changed = make(chan struct{})
}

// setQuiet changes the status without waking anyone, like time passing.
func (f *fakeElector) setQuiet(st election.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
}

// awaitRead waits until the handler has read a status of generation gen.
func (f *fakeElector) awaitRead(t *testing.T, gen uint64) {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case g := <-f.reads:
			if g == gen {
				return
			}
		case <-timeout:
			t.Fatalf("no status read of generation %d within %v", gen, guard)
		}
	}
}

func follower() election.Status {
	return election.Status{
		Name: "jobs", Identity: "pod-a", Holder: "pod-b", Fence: 41,
		Running: true, Generation: 1,
	}
}

func leader() election.Status {
	return election.Status{
		Name: "jobs", Identity: "pod-a", Holder: "pod-a", Fence: 42, Leader: true,
		TermStart: time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600)),
		Remaining: 9*time.Second + 500*time.Microsecond,
		Running:   true, Generation: 1,
	}
}

// serve starts a test server for f; it is closed when the test ends.
func serve(t *testing.T, f *fakeElector, opts api.Options) *httptest.Server {
	t.Helper()
	h, err := api.NewHandler(f, opts)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// closeWithin closes srv, failing the test if a handler is still running
// after guard: httptest.Server.Close waits for every handler.
func closeWithin(t *testing.T, srv *httptest.Server) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(guard):
		t.Fatalf("a handler still runs %v after its client went away", guard)
	}
}

// newServer starts a test server for f that the test closes itself, with
// closeWithin.
func newServer(t *testing.T, f *fakeElector, opts api.Options) *httptest.Server {
	t.Helper()
	h, err := api.NewHandler(f, opts)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return httptest.NewServer(h)
}

type result struct {
	code int
	body string
	err  error
}

// getAsync sends GET url from another goroutine and delivers the outcome.
func getAsync(ctx context.Context, url string) <-chan result {
	done := make(chan result, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		done <- result{code: resp.StatusCode, body: string(data), err: err}
	}()
	return done
}

// await returns the outcome of a getAsync, failing after guard.
func await(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(guard):
		t.Fatalf("no response within %v", guard)
		return result{}
	}
}

// fakeChild is a ChildSource whose state the test sets. The real
// supervisor is tested in package supervisor.
type fakeChild struct {
	mu      sync.Mutex
	st      api.ChildState
	gen     uint64
	changed chan struct{}

	// reads receives the generation of each ChildState read, dropped when
	// full.
	reads chan uint64
}

func newFakeChild(st api.ChildState) *fakeChild {
	return &fakeChild{st: st, gen: 1, changed: make(chan struct{}), reads: make(chan uint64, 64)}
}

// ChildState returns a copy with a LastExit of its own, as a real source's
// snapshot does: its address differs at every read.
func (c *fakeChild) ChildState() api.ChildState {
	c.mu.Lock()
	st, gen := c.st, c.gen
	c.mu.Unlock()
	if st.LastExit != nil {
		ex := *st.LastExit
		st.LastExit = &ex
	}
	select {
	case c.reads <- gen:
	default:
	}
	return st
}

func (c *fakeChild) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// set changes the state, wakes every observer and returns the state's
// generation.
func (c *fakeChild) set(st api.ChildState) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st = st
	c.gen++
	close(c.changed)
	c.changed = make(chan struct{})
	return c.gen
}

// awaitRead waits until the handler has read a state of generation gen.
func (c *fakeChild) awaitRead(t *testing.T, gen uint64) {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case g := <-c.reads:
			if g == gen {
				return
			}
		case <-timeout:
			t.Fatalf("no child state read of generation %d within %v", gen, guard)
		}
	}
}

// childStarted is the time running() started, in a zone other than UTC.
var childStarted = time.Date(2025, 1, 2, 3, 5, 0, 7, time.FixedZone("CET", 3600))

// running is a child that runs after one restart, its previous run having
// exited with status 3.
func running() api.ChildState {
	return api.ChildState{
		Running: true, PID: 4242, Started: childStarted, Restarts: 1,
		LastExit: &api.ChildExit{Code: 3, At: childStarted.Add(-time.Second)},
	}
}

// do sends a request and returns the response with its body read.
var do = apitest.Do
