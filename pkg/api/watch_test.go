package api_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
)

// sseItem is one Server-Sent Events block: an event, or a comment.
type sseItem struct {
	id, event, data, comment string
}

// stream opens GET /leader/watch and delivers its items until it ends.
func stream(t *testing.T, ctx context.Context, url string) (*http.Response, <-chan sseItem) {
	t.Helper()
	return streamPath(t, ctx, url, "/leader/watch")
}

// streamPath opens the event stream GET path and delivers its items until
// it ends.
func streamPath(t *testing.T, ctx context.Context, url, path string) (*http.Response, <-chan sseItem) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200", path, resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	items := make(chan sseItem)
	go func() {
		defer close(items)
		sc := bufio.NewScanner(resp.Body)
		var it sseItem
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				select {
				case items <- it:
				case <-ctx.Done():
					return
				}
				it = sseItem{}
			case strings.HasPrefix(line, ":"):
				it.comment = strings.TrimSpace(line[1:])
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					it.id = v
				case "event":
					it.event = v
				case "data":
					it.data = v
				default:
					it.comment = "unexpected line " + line
				}
			}
		}
	}()
	return resp, items
}

// next returns the next item, failing after guard.
func next(t *testing.T, items <-chan sseItem) sseItem {
	t.Helper()
	select {
	case it, ok := <-items:
		if !ok {
			t.Fatal("event stream ended")
		}
		return it
	case <-time.After(guard):
		t.Fatalf("no event within %v", guard)
		return sseItem{}
	}
}

// nextEvent returns the next status event, failing on anything else.
func nextEvent(t *testing.T, items <-chan sseItem) sseItem {
	t.Helper()
	it := next(t, items)
	if it.event != "status" || it.comment != "" {
		t.Fatalf("got %+v; want a status event", it)
	}
	return it
}

// noHeartbeat keeps keep-alive comments out of tests about events.
var noHeartbeat = api.Options{HeartbeatInterval: time.Hour}

func TestWatchInitialEvent(t *testing.T) {
	st := leader()
	st.Generation = 7
	srv := serve(t, newFake(st), noHeartbeat)
	resp, items := stream(t, t.Context(), srv.URL)
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-store",
		"X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	it := nextEvent(t, items)
	want := `{"leader":true,"identity":"pod-a","holder":"pod-a","fence":42,"remaining_ms":9000,` +
		`"term_start":"2025-01-02T02:04:05.000000006Z","lock":"jobs"}`
	if it.id != "7" || it.data != want {
		t.Errorf("first event = id %s data %s; want id 7 data %s", it.id, it.data, want)
	}
}

func TestWatchChanges(t *testing.T) {
	f := newFake(leader())
	srv := serve(t, f, noHeartbeat)
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)

	// apply sets st as generation gen, and waits until the stream has read
	// it, so that no two changes merge into one read.
	gen := uint64(1)
	apply := func(st election.Status) {
		gen++
		st.Generation = gen
		f.set(st)
		f.awaitRead(t, gen)
	}
	type step struct {
		name  string
		st    func() election.Status
		event bool // whether the change makes an event
		want  string
	}
	steps := []step{
		{
			name: "remaining only", event: false,
			st: func() election.Status { s := leader(); s.Remaining = 3 * time.Second; return s },
		},
		{
			name: "leadership lost", event: true,
			st:   func() election.Status { s := follower(); s.Holder, s.Fence = "", 0; return s },
			want: `{"leader":false,"identity":"pod-a","holder":"","remaining_ms":0,"lock":"jobs"}`,
		},
		{
			name: "new holder", event: true,
			st:   func() election.Status { s := follower(); s.Holder, s.Fence = "pod-b", 43; return s },
			want: `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs"}`,
		},
		{
			name: "same holder, new fence: not in the body", event: false,
			st: func() election.Status { s := follower(); s.Holder, s.Fence = "pod-b", 44; return s },
		},
		{
			name: "hold-off starts", event: true,
			st:   func() election.Status { s := follower(); s.HoldOff = 10 * time.Second; return s },
			want: `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs","hold_off_ms":10000}`,
		},
		{
			name: "hold-off counts down", event: false,
			st: func() election.Status { s := follower(); s.HoldOff = 9 * time.Second; return s },
		},
		{
			name: "hold-off extended", event: true,
			st:   func() election.Status { s := follower(); s.HoldOff = 20 * time.Second; return s },
			want: `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs","hold_off_ms":20000}`,
		},
		{
			name: "error", event: true,
			st: func() election.Status {
				s := follower()
				s.HoldOff, s.LastError = 19*time.Second, "timeout"
				return s
			},
			want: `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs","hold_off_ms":19000,"last_error":"timeout"}`,
		},
		{
			name: "hold-off over, error cleared", event: true,
			st:   follower,
			want: `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs"}`,
		},
		{
			name: "leader again", event: true,
			st: func() election.Status {
				s := leader()
				s.Fence = 45
				s.Remaining = 15 * time.Second
				return s
			},
			want: `{"leader":true,"identity":"pod-a","holder":"pod-a","fence":45,"remaining_ms":15000,` +
				`"term_start":"2025-01-02T02:04:05.000000006Z","lock":"jobs"}`,
		},
	}
	// The stream delivers events in order, so a change that makes no event
	// shows as the next event being the following change's.
	for _, s := range steps {
		apply(s.st())
		if !s.event {
			continue
		}
		it := nextEvent(t, items)
		if it.data != s.want {
			t.Fatalf("after %q: event data =\n%s\nwant\n%s", s.name, it.data, s.want)
		}
		if want := strconv.FormatUint(gen, 10); it.id != want {
			t.Fatalf("after %q: event id = %s; want %s", s.name, it.id, want)
		}
	}
}

func TestWatchHoldOffEnds(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, noHeartbeat)
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)

	st := follower()
	st.HoldOff, st.Generation = 30*time.Millisecond, 2
	f.set(st)
	if it := nextEvent(t, items); !strings.Contains(it.data, `"hold_off_ms":30`) {
		t.Fatalf("event data = %s; want hold_off_ms 30", it.data)
	}
	// The hold-off runs out with no announcement from the elector: the
	// stream notices by itself.
	st.HoldOff = 0
	f.setQuiet(st)
	if it := nextEvent(t, items); strings.Contains(it.data, "hold_off_ms") || it.id != "2" {
		t.Fatalf("event = id %s data %s; want generation 2 with no hold_off_ms", it.id, it.data)
	}
}

func TestWatchTermRunsOut(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, noHeartbeat)
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)

	st := leader()
	st.Remaining, st.Generation = 30*time.Millisecond, 2
	f.set(st)
	if it := nextEvent(t, items); !strings.Contains(it.data, `"leader":true`) {
		t.Fatalf("event data = %s; want leader", it.data)
	}
	// The term's validity runs out before the election loop steps down
	// (and announces it): Status reads as not leader, and the stream
	// notices by itself.
	st = follower()
	st.Holder, st.Fence, st.Generation = "", 0, 2
	f.setQuiet(st)
	if it := nextEvent(t, items); !strings.Contains(it.data, `"leader":false`) || it.id != "2" {
		t.Fatalf("event = id %s data %s; want generation 2, not leader", it.id, it.data)
	}
}

func TestWatchHeartbeat(t *testing.T) {
	srv := serve(t, newFake(follower()), api.Options{HeartbeatInterval: 5 * time.Millisecond})
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)
	if it := next(t, items); it.comment != "keep-alive" || it.event != "" {
		t.Fatalf("got %+v; want a keep-alive comment", it)
	}
}

func TestWatchHeadAndBadQuery(t *testing.T) {
	srv := serve(t, newFake(follower()), noHeartbeat)
	resp, body := do(t, http.MethodHead, srv.URL+"/leader/watch", "", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || body != "" {
		t.Errorf("HEAD = %d %q %q; want 200 text/event-stream with no body", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = do(t, http.MethodGet, srv.URL+"/leader/watch?since=3", "", "", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `unknown query parameter \"since\"`) {
		t.Errorf("GET with unknown parameter = %d %s; want 400 naming it", resp.StatusCode, body)
	}
}

func TestWatchEndsWhenClientGoesAway(t *testing.T) {
	f := newFake(follower())
	srv := newServer(t, f, noHeartbeat)
	ctx, cancel := context.WithCancel(t.Context())
	resp, items := stream(t, ctx, srv.URL)
	nextEvent(t, items)
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	closeWithin(t, srv)
}

// A renewal changes the status (Remaining, Generation) but nothing a
// watcher sees besides the countdown: it makes no event, however many come.
func TestWatchRenewalsMakeNoEvent(t *testing.T) {
	f := newFake(leader())
	srv := serve(t, f, noHeartbeat)
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)
	gen := uint64(1)
	for i := range 20 {
		st := leader()
		gen++
		st.Generation = gen
		st.Remaining = time.Duration(i%7+3) * time.Second // up on renewal, down in between
		if i%5 == 0 {
			// Bookkeeping that StatusBody does not show.
			st.LastStepDown, st.LastStepDownFence = election.ReasonResigned, 41
		}
		f.set(st)
		f.awaitRead(t, gen)
	}
	st := leader()
	gen++
	st.Generation, st.LastError = gen, "timeout"
	f.set(st)
	it := nextEvent(t, items)
	if want := strconv.FormatUint(gen, 10); it.id != want || !strings.Contains(it.data, `"last_error":"timeout"`) {
		t.Fatalf("first event after the renewals = id %s data %s; want id %s with the error", it.id, it.data, want)
	}
}

// Every field a watcher sees, but the countdowns, makes an event when it
// alone changes.
func TestWatchEveryVisibleFieldMakesAnEvent(t *testing.T) {
	tests := []struct {
		name   string
		change func(*election.Status)
		want   string // in the event's data
	}{
		{"leader", func(s *election.Status) { s.Leader, s.Remaining, s.TermStart = false, 0, time.Time{} }, `"leader":false`},
		{"identity", func(s *election.Status) { s.Identity = "pod-z" }, `"identity":"pod-z"`},
		{"holder", func(s *election.Status) { s.Holder = "pod-z" }, `"holder":"pod-z"`},
		{"fence", func(s *election.Status) { s.Fence = 43 }, `"fence":43`},
		{"term start", func(s *election.Status) { s.TermStart = s.TermStart.Add(time.Second) }, `"term_start":"2025-01-02T02:04:06.000000006Z"`},
		{"lock", func(s *election.Status) { s.Name = "other" }, `"lock":"other"`},
		{"hold-off", func(s *election.Status) { s.HoldOff = time.Second }, `"hold_off_ms":1000`},
		{"last error", func(s *election.Status) { s.LastError = "timeout" }, `"last_error":"timeout"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(leader())
			srv := serve(t, f, noHeartbeat)
			_, items := stream(t, t.Context(), srv.URL)
			nextEvent(t, items)
			st := leader()
			tt.change(&st)
			st.Generation = 2
			f.set(st)
			if it := nextEvent(t, items); it.id != "2" || !strings.Contains(it.data, tt.want) {
				t.Fatalf("event = id %s data %s; want id 2 with %s", it.id, it.data, tt.want)
			}
		})
	}
}
