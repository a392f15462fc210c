package api_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/apitest"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/field"
)

func TestNewServerDefaults(t *testing.T) {
	h, _ := api.NewHandler(newFake(follower()), api.Options{})
	srv, err := api.NewServer(h, api.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if srv.ReadHeaderTimeout != 5*time.Second || srv.ReadTimeout != 10*time.Second ||
		srv.WriteTimeout != 10*time.Second || srv.IdleTimeout != time.Minute ||
		srv.MaxHeaderBytes != 8<<10 || srv.Handler == nil || srv.ErrorLog != nil || srv.BaseContext != nil {
		t.Errorf("NewServer(zero options) = %+v; want the documented defaults", srv)
	}
	srv, err = api.NewServer(h, api.ServerOptions{
		ReadHeaderTimeout: 1, ReadTimeout: 2, WriteTimeout: 3, IdleTimeout: 4, MaxHeaderBytes: 5,
		BaseContext: func(net.Listener) context.Context { return t.Context() },
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if srv.ReadHeaderTimeout != 1 || srv.ReadTimeout != 2 || srv.WriteTimeout != 3 || srv.IdleTimeout != 4 ||
		srv.MaxHeaderBytes != 5 || srv.BaseContext == nil || srv.ErrorLog == nil {
		t.Errorf("NewServer(options) = %+v; want them all taken", srv)
	}
}

func TestNewServerRejects(t *testing.T) {
	h, _ := api.NewHandler(newFake(follower()), api.Options{})
	tests := []struct {
		name string
		h    http.Handler
		o    api.ServerOptions
		want string
	}{
		{"nil handler", nil, api.ServerOptions{}, "api: invalid options: NewServer needs a handler (got nil)"},
		{"negative ReadHeaderTimeout", h, api.ServerOptions{ReadHeaderTimeout: -1}, "api: invalid options: ReadHeaderTimeout must not be negative (got -1ns)"},
		{"negative ReadTimeout", h, api.ServerOptions{ReadTimeout: -time.Second}, "api: invalid options: ReadTimeout must not be negative (got -1s)"},
		{"negative WriteTimeout", h, api.ServerOptions{WriteTimeout: -time.Second}, "api: invalid options: WriteTimeout must not be negative (got -1s)"},
		{"negative IdleTimeout", h, api.ServerOptions{IdleTimeout: -time.Second}, "api: invalid options: IdleTimeout must not be negative (got -1s)"},
		{"negative MaxHeaderBytes", h, api.ServerOptions{MaxHeaderBytes: -1}, "api: invalid options: MaxHeaderBytes must not be negative (got -1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.NewServer(tt.h, tt.o)
			if !errors.Is(err, api.ErrInvalidOptions) || err.Error() != tt.want {
				t.Fatalf("NewServer error = %v; want ErrInvalidOptions: %s", err, tt.want)
			}
			// A nil handler is no option: it has no field.
			if fieldErr := errors.As(err, new(*field.Error)); fieldErr != (tt.h != nil) {
				t.Errorf("NewServer error %v: *field.Error %v, want %v", err, fieldErr, tt.h != nil)
			}
		})
	}
}

// shortTimeouts are server timeouts that every waiting test outlasts many
// times over.
var shortTimeouts = api.ServerOptions{
	ReadHeaderTimeout: 20 * time.Millisecond, ReadTimeout: 20 * time.Millisecond,
	WriteTimeout: 20 * time.Millisecond, IdleTimeout: 20 * time.Millisecond,
}

// serveWith starts NewServer(NewHandler(f, opts), so) on a loopback port
// and returns its base URL; the server is closed when the test ends.
func serveWith(t testing.TB, f *fakeElector, opts api.Options, so api.ServerOptions) string {
	t.Helper()
	h, err := api.NewHandler(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(h, so)
	if err != nil {
		t.Fatal(err)
	}
	return apitest.Serve(t, srv)
}

// A long-poll longer than the server's ReadTimeout and WriteTimeout still
// gets its answer, though the server drops a response written after the
// write deadline it sets.
func TestLongPollOutlastsServerTimeouts(t *testing.T) {
	url := serveWith(t, newFake(follower()), api.Options{}, shortTimeouts)
	resp, body := do(t, http.MethodGet, url+"/leader?wait=200ms", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"leader":false`) {
		t.Fatalf("long-poll = %d %s; want 503 with the status", resp.StatusCode, body)
	}
}

func TestWatchOutlastsServerTimeouts(t *testing.T) {
	f := newFake(follower())
	url := serveWith(t, f, api.Options{HeartbeatInterval: 100 * time.Millisecond}, shortTimeouts)
	_, items := stream(t, t.Context(), url)
	nextEvent(t, items)
	// The first keep-alive comes five timeouts later.
	if it := next(t, items); it.comment != "keep-alive" {
		t.Fatalf("got %+v; want a keep-alive comment", it)
	}
	st := leader()
	st.Generation = 2
	f.set(st)
	for {
		it := next(t, items)
		if it.comment == "keep-alive" {
			continue
		}
		if it.event != "status" || !strings.Contains(it.data, `"leader":true`) {
			t.Fatalf("got %+v; want the leader's event", it)
		}
		return
	}
}

// A resign can take as long as the elector's timeouts allow: the answer
// must not be lost to the server's.
func TestReleaseOutlastsServerTimeouts(t *testing.T) {
	f := newFake(leader())
	f.released, f.gate = true, make(chan struct{})
	url := serveWith(t, f, api.Options{}, shortTimeouts)
	done := make(chan result, 1)
	go func() {
		resp, err := http.Post(url+"/leader/release", "", nil)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		done <- result{code: resp.StatusCode, body: string(data), err: err}
	}()
	<-f.resigns
	// Not to win a race: to let both server timeouts pass, five times over,
	// while Resign is still at work.
	time.Sleep(100 * time.Millisecond)
	close(f.gate)
	if r := await(t, done); r.err != nil || r.code != http.StatusOK || !strings.Contains(r.body, `"released":true`) {
		t.Fatalf("release = %d %s %v; want 200 released", r.code, r.body, r.err)
	}
}

func TestServerLimits(t *testing.T) {
	url := serveWith(t, newFake(leader()), api.Options{}, api.ServerOptions{
		ReadHeaderTimeout: 20 * time.Millisecond, IdleTimeout: 20 * time.Millisecond, MaxHeaderBytes: 1 << 10,
	})
	addr := strings.TrimPrefix(url, "http://")

	t.Run("MaxHeaderBytes", func(t *testing.T) {
		// net/http allows 4 KiB beyond MaxHeaderBytes.
		resp, _ := do(t, http.MethodGet, url+"/leader", "", "", http.Header{"X-Padding": {strings.Repeat("x", 8<<10)}})
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status = %d; want 431", resp.StatusCode)
		}
	})
	t.Run("ReadHeaderTimeout", func(t *testing.T) {
		conn := dialGuarded(t, addr)
		if _, err := io.WriteString(conn, "GET /leader HTTP/1.1\r\nHost: localhost\r\n"); err != nil {
			t.Fatal(err)
		}
		// The headers never end: the server hangs up.
		expectHangUp(t, conn)
	})
	t.Run("IdleTimeout", func(t *testing.T) {
		conn := dialGuarded(t, addr)
		if _, err := io.WriteString(conn, "GET /leader HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("first answer = %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		// No second request: the server hangs up.
		expectHangUp(t, br)
	})
}

// dialGuarded connects to addr; every read and write fails after guard.
func dialGuarded(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(guard)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// expectHangUp reads r to its end, which must come from the server
// closing the connection, not from the guard's deadline.
func expectHangUp(t *testing.T, r io.Reader) {
	t.Helper()
	_, err := io.Copy(io.Discard, r)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", guard)
	}
}
