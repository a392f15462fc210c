package probes_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/probes"
)

const secret = "dial tcp 10.0.0.7:6379: connection refused"

func pass(*http.Request) error { return nil }
func fail(*http.Request) error { return errors.New(secret) }

func newTestMux(t *testing.T, logger *slog.Logger) *http.ServeMux {
	t.Helper()
	mux, err := probes.NewMux(probes.MuxOptions{
		Liveness: map[string]probes.Checker{"loop": pass},
		Readiness: map[string]probes.Checker{
			"election": pass,
			"redis":    fail,
		},
		Logger: logger,
	})
	if err != nil {
		t.Fatalf("NewMux: %v", err)
	}
	return mux
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

func TestMux(t *testing.T) {
	mux := newTestMux(t, nil)
	tests := []struct {
		name     string
		method   string
		target   string
		status   int
		body     string // exact, unless contains is set
		contains string
	}{
		{name: "liveness", target: "/healthz", status: 200, body: "ok\n"},
		{name: "liveness with trailing slash", target: "/healthz/", status: 200, body: "ok\n"},
		{name: "liveness verbose", target: "/healthz?verbose", status: 200, body: "[+]loop ok\nok\n"},
		// The recorder keeps the body that net/http's server drops for HEAD.
		{name: "liveness head", method: http.MethodHead, target: "/healthz", status: 200, body: "ok\n"},
		{name: "readiness fails", target: "/readyz", status: 500, body: "unhealthy\n"},
		{name: "readiness verbose", target: "/readyz?verbose", status: 500,
			body: "[+]election ok\n[-]redis failed\nunhealthy\n"},
		{name: "verbose with a value", target: "/readyz?verbose=1", status: 500,
			body: "[+]election ok\n[-]redis failed\nunhealthy\n"},
		{name: "exclude the failing check", target: "/readyz?exclude=redis", status: 200, body: "ok\n"},
		{name: "exclude verbose", target: "/readyz?exclude=redis&verbose", status: 200,
			body: "[+]election ok\n[+]redis excluded\nok\n"},
		{name: "exclude both", target: "/readyz?exclude=redis&exclude=election&verbose", status: 200,
			body: "[+]election excluded\n[+]redis excluded\nok\n"},
		{name: "exclude an unknown check", target: "/readyz?exclude=nope&verbose", status: 500,
			body: "[+]election ok\n[-]redis failed\nwarn: unknown checks excluded: nope\nunhealthy\n"},
		{name: "subpath passing", target: "/readyz/election", status: 200, body: "ok\n"},
		{name: "subpath failing", target: "/readyz/redis", status: 500, body: "unhealthy\n"},
		{name: "subpath verbose", target: "/readyz/redis?verbose", status: 500, body: "[-]redis failed\nunhealthy\n"},
		{name: "exclude does not apply to a subpath", target: "/readyz/redis?exclude=redis", status: 500, body: "unhealthy\n"},
		{name: "liveness subpath", target: "/healthz/loop", status: 200, body: "ok\n"},
		{name: "unknown subpath", target: "/readyz/nope", status: 404, contains: "not found"},
		{name: "nested subpath", target: "/readyz/redis/x", status: 404, contains: "not found"},
		{name: "check of the other probe", target: "/healthz/redis", status: 404, contains: "not found"},
		{name: "unknown path", target: "/nope", status: 404, contains: "not found"},
		{name: "post", method: http.MethodPost, target: "/readyz", status: 405, contains: "Method Not Allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			w := serve(mux, method, tt.target)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			body := w.Body.String()
			if tt.contains != "" {
				if !strings.Contains(body, tt.contains) {
					t.Errorf("body %q lacks %q", body, tt.contains)
				}
			} else if body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if strings.Contains(body, secret) {
				t.Errorf("body %q reveals the failure reason", body)
			}
		})
	}
}

func TestContentTypes(t *testing.T) {
	mux := newTestMux(t, nil)
	for _, target := range []string{"/healthz", "/readyz/redis"} {
		t.Run(target, func(t *testing.T) {
			got := serve(mux, http.MethodGet, target).Header().Get("Content-Type")
			if !strings.HasPrefix(got, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", got)
			}
		})
	}
}

func TestNewMuxRejects(t *testing.T) {
	tests := []struct {
		name string
		opts probes.MuxOptions
		want []string // substrings of the error
	}{
		{"empty check name", probes.MuxOptions{Readiness: map[string]probes.Checker{"": pass}},
			[]string{`""`, "Readiness"}},
		{"check name with a slash", probes.MuxOptions{Liveness: map[string]probes.Checker{"a/b": pass}},
			[]string{`"a/b"`, "Liveness"}},
		{"nil checker", probes.MuxOptions{Readiness: map[string]probes.Checker{"redis": nil}},
			[]string{`"redis"`, "nil", "Readiness"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux, err := probes.NewMux(tt.opts)
			if err == nil {
				t.Fatal("NewMux succeeded, want an error")
			}
			if mux != nil {
				t.Error("NewMux returned a mux with its error")
			}
			if !errors.Is(err, probes.ErrInvalidOptions) || !errors.As(err, new(*field.Error)) {
				t.Errorf("error %v does not wrap ErrInvalidOptions and a *field.Error", err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsOncePerStateChange(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var healthy atomic.Bool
	h, err := probes.NewHandler(map[string]probes.Checker{
		"redis": func(*http.Request) error {
			if healthy.Load() {
				return nil
			}
			return errors.New(secret)
		},
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		healthy       bool
		path          string
		failed, recov int // log lines so far
	}{
		{false, "/", 1, 0},
		{false, "/", 1, 0},
		{false, "/redis", 1, 0},
		{true, "/", 1, 1},
		{true, "/redis", 1, 1},
		{false, "/redis", 2, 1},
		{false, "/", 2, 1},
		{true, "/", 2, 2},
	}
	for i, s := range steps {
		healthy.Store(s.healthy)
		w := serve(h, http.MethodGet, s.path)
		if want := map[bool]int{true: 200, false: 500}[s.healthy]; w.Code != want {
			t.Errorf("step %d: status %d, want %d", i, w.Code, want)
		}
		out := logs.String()
		if got := strings.Count(out, "probe check failed"); got != s.failed {
			t.Errorf("step %d: %d failure lines, want %d:\n%s", i, got, s.failed, out)
		}
		if got := strings.Count(out, "probe check recovered"); got != s.recov {
			t.Errorf("step %d: %d recovery lines, want %d:\n%s", i, got, s.recov, out)
		}
	}
	out := logs.String()
	if !strings.Contains(out, secret) || !strings.Contains(out, "check=redis") {
		t.Errorf("the log lacks the failure's details:\n%s", out)
	}
}

func TestNoChecksIsHealthy(t *testing.T) {
	h, err := probes.NewHandler(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(h, http.MethodGet, "/?verbose"); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Errorf("got %d %q, want 200 \"ok\\n\"", w.Code, w.Body.String())
	}
}

type fakeElector struct {
	healthy error
	status  election.Status
	leader  bool
}

func (f fakeElector) Healthy() error          { return f.healthy }
func (f fakeElector) Status() election.Status { return f.status }
func (f fakeElector) IsLeader() bool          { return f.leader }

func TestElectorChecks(t *testing.T) {
	wedged := errors.New("election: loop wedged")
	tests := []struct {
		name    string
		check   func(fakeElector) probes.Checker
		e       fakeElector
		wantErr bool
	}{
		{"loop healthy follower", func(e fakeElector) probes.Checker { return probes.ElectionLoop(e) }, fakeElector{}, false},
		{"loop wedged", func(e fakeElector) probes.Checker { return probes.ElectionLoop(e) }, fakeElector{healthy: wedged}, true},
		{"running", func(e fakeElector) probes.Checker { return probes.Running(e) },
			fakeElector{status: election.Status{Running: true}}, false},
		{"not running", func(e fakeElector) probes.Checker { return probes.Running(e) }, fakeElector{}, true},
		{"leader", func(e fakeElector) probes.Checker { return probes.Leader(e) }, fakeElector{leader: true}, false},
		{"follower", func(e fakeElector) probes.Checker { return probes.Leader(e) }, fakeElector{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check(tt.e)(httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", err, tt.wantErr)
			}
			if tt.e.healthy != nil && !errors.Is(err, tt.e.healthy) {
				t.Errorf("err = %v, want the elector's %v", err, tt.e.healthy)
			}
		})
	}
}

// The *election.Elector satisfies every check's interface.
var (
	_ = probes.ElectionLoop((*election.Elector)(nil))
	_ = probes.Running((*election.Elector)(nil))
	_ = probes.Leader((*election.Elector)(nil))
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func request(ctx context.Context) *http.Request {
	return httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz/redis", nil)
}

func TestCachedPingCaches(t *testing.T) {
	const ttl = 5 * time.Second
	down := errors.New("redis down")
	type step struct {
		advance   time.Duration
		pingErr   error // what ping returns during this step
		wantCalls int
		wantErr   error
	}
	tests := []struct {
		name  string
		ttl   time.Duration
		steps []step
	}{{
		name: "success is cached for ttl",
		ttl:  ttl,
		steps: []step{
			{wantCalls: 1},
			{wantCalls: 1},
			{advance: ttl - time.Nanosecond, wantCalls: 1},
			{advance: time.Nanosecond, wantCalls: 2},
			{advance: time.Second, wantCalls: 2},
		},
	}, {
		name: "failure is cached for ttl too",
		ttl:  ttl,
		steps: []step{
			{pingErr: down, wantCalls: 1, wantErr: down},
			{pingErr: nil, wantCalls: 1, wantErr: down},
			{advance: ttl, wantCalls: 2, wantErr: nil},
			{pingErr: down, wantCalls: 2, wantErr: nil},
			{advance: ttl, pingErr: down, wantCalls: 3, wantErr: down},
		},
	}, {
		name: "zero ttl caches nothing",
		ttl:  0,
		steps: []step{
			{wantCalls: 1},
			{wantCalls: 2},
			{pingErr: down, wantCalls: 3, wantErr: down},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			var calls atomic.Int32
			var pingErr atomic.Pointer[error]
			pingErr.Store(new(error))
			check := probes.CachedPing(func(ctx context.Context) error {
				calls.Add(1)
				return *pingErr.Load()
			}, tt.ttl, clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				pingErr.Store(&s.pingErr)
				err := check(request(t.Context()))
				if !errors.Is(err, s.wantErr) || (err == nil) != (s.wantErr == nil) {
					t.Errorf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
				if got := int(calls.Load()); got != s.wantCalls {
					t.Errorf("step %d: %d pings, want %d", i, got, s.wantCalls)
				}
			}
		})
	}
}

func TestCachedPingContext(t *testing.T) {
	type key struct{}
	var got context.Context
	check := probes.CachedPing(func(ctx context.Context) error {
		got = ctx
		return nil
	}, time.Second, newFakeClock().Now)
	ctx := context.WithValue(t.Context(), key{}, "v")
	if err := check(request(ctx)); err != nil {
		t.Fatal(err)
	}
	deadline, ok := got.Deadline()
	if !ok {
		t.Fatal("ping's context has no deadline")
	}
	if d := time.Until(deadline); d > probes.PingTimeout {
		t.Errorf("ping's deadline is %v away, want at most %v", d, probes.PingTimeout)
	}
	if got.Value(key{}) != "v" {
		t.Error("ping's context lacks the request's values")
	}
}

func TestCachedPingCallerGivesUp(t *testing.T) {
	entered := make(chan error, 1)
	release := make(chan struct{})
	var calls atomic.Int32
	check := probes.CachedPing(func(ctx context.Context) error {
		calls.Add(1)
		entered <- ctx.Err()
		<-release
		return ctx.Err()
	}, time.Minute, newFakeClock().Now)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := check(request(ctx)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller got %v, want context.Canceled", err)
	}
	if err := <-entered; err != nil {
		t.Errorf("ping started with a done context: %v", err)
	}
	close(release)
	// The next caller shares the ping (in flight or cached): it was not
	// cancelled with the first caller.
	if err := check(request(t.Context())); err != nil {
		t.Errorf("second caller got %v, want nil", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d pings, want 1", n)
	}
}

func TestCachedPingConcurrent(t *testing.T) {
	tests := []struct {
		name    string
		advance bool // move the clock past ttl while callers run
	}{
		{"frozen clock: one ping for all", false},
		{"moving clock", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const callers = 64
			clock := newFakeClock()
			release := make(chan struct{})
			var calls atomic.Int32
			check := probes.CachedPing(func(ctx context.Context) error {
				calls.Add(1)
				<-release
				return nil
			}, time.Second, clock.Now)

			var started, done sync.WaitGroup
			errs := make(chan error, callers)
			for range callers {
				started.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					started.Done()
					errs <- check(request(t.Context()))
				}()
			}
			if tt.advance {
				done.Add(1)
				go func() {
					defer done.Done()
					for range 10 {
						clock.Advance(time.Second)
					}
				}()
			}
			started.Wait()
			close(release)
			done.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("caller got %v", err)
				}
			}
			n := calls.Load()
			if !tt.advance && n != 1 {
				t.Errorf("%d pings, want 1", n)
			}
			if n < 1 || n > callers {
				t.Errorf("%d pings, want 1 to %d", n, callers)
			}
		})
	}
}

func TestCachedPingNil(t *testing.T) {
	if err := probes.CachedPing(nil, time.Second, nil)(request(t.Context())); err == nil {
		t.Error("nil ping passed")
	}
}

func ExampleNewMux() {
	mux, err := probes.NewMux(probes.MuxOptions{
		Readiness: map[string]probes.Checker{
			"redis": probes.CachedPing(func(context.Context) error { return nil }, 2*time.Second, nil),
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil))
	fmt.Print(w.Code, "\n", w.Body.String())
	// Output:
	// 200
	// [+]redis ok
	// ok
}
