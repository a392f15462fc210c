package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
)

// longTerm is a leader whose term stays valid far beyond guard, so that
// the stream's recheck at the term's end never wakes it during a test: an
// event then comes from a change announced, or not at all.
func longTerm() election.Status {
	st := leader()
	st.Remaining = time.Hour
	return st
}

func TestLeaderChild(t *testing.T) {
	const lead = `{"leader":true,"identity":"pod-a","holder":"pod-a","fence":42,"remaining_ms":9000,` +
		`"term_start":"2025-01-02T02:04:05.000000006Z","lock":"jobs",`
	stopping := running()
	stopping.Stopping = true
	tests := []struct {
		name  string
		st    election.Status
		child api.ChildState
		code  int
		body  string
	}{
		{
			name: "running after a restart", st: leader(), child: running(), code: http.StatusOK,
			body: lead + `"child":{"running":true,"pid":4242,"started":"2025-01-02T02:05:00.000000007Z",` +
				`"stopping":false,"restarts":1,"last_exit":{"code":3,"at":"2025-01-02T02:04:59.000000007Z","by_baton":false}}}`,
		},
		{
			name: "being stopped", st: leader(), child: stopping, code: http.StatusOK,
			body: lead + `"child":{"running":true,"pid":4242,"started":"2025-01-02T02:05:00.000000007Z",` +
				`"stopping":true,"restarts":1,"last_exit":{"code":3,"at":"2025-01-02T02:04:59.000000007Z","by_baton":false}}}`,
		},
		{
			name: "not yet started", st: leader(), child: api.ChildState{}, code: http.StatusOK,
			body: lead + `"child":{"running":false,"stopping":false,"restarts":0}}`,
		},
		{
			// What describes a running child is left out once none runs,
			// whatever the source says.
			name: "stopped by baton at the end of the term", st: follower(), code: http.StatusServiceUnavailable,
			child: api.ChildState{
				PID: 4242, Started: childStarted, Stopping: true, Restarts: 2,
				LastExit: &api.ChildExit{Code: -1, Signal: "SIGTERM", At: childStarted.Add(time.Minute), ByBaton: true},
			},
			body: `{"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs",` +
				`"child":{"running":false,"stopping":false,"restarts":2,` +
				`"last_exit":{"code":-1,"signal":"SIGTERM","at":"2025-01-02T02:06:00.000000007Z","by_baton":true}}}`,
		},
		{
			// A leader whose child has exited still leads: the code is
			// about leadership.
			name: "could not start", st: leader(), code: http.StatusOK,
			child: api.ChildState{LastExit: &api.ChildExit{
				Code: -1, StartError: `exec: "jbo": executable file not found in $PATH`, At: childStarted,
			}},
			body: lead + `"child":{"running":false,"stopping":false,"restarts":0,"last_exit":{"code":-1,` +
				`"start_error":"exec: \"jbo\": executable file not found in $PATH","at":"2025-01-02T02:05:00.000000007Z","by_baton":false}}}`,
		},
		{
			name: "exit time unknown", st: leader(), code: http.StatusOK,
			child: api.ChildState{LastExit: &api.ChildExit{Code: 0}},
			body:  lead + `"child":{"running":false,"stopping":false,"restarts":0,"last_exit":{"code":0,"by_baton":false}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, newFake(tt.st), api.Options{Child: newFakeChild(tt.child)})
			resp, body := do(t, http.MethodGet, srv.URL+"/leader", "", "", nil)
			if resp.StatusCode != tt.code {
				t.Errorf("status = %d; want %d", resp.StatusCode, tt.code)
			}
			if got := strings.TrimSuffix(body, "\n"); got != tt.body {
				t.Errorf("body =\n%s\nwant\n%s", got, tt.body)
			}
		})
	}
}

// Without Options.Child, neither a body nor an event has a child key, not
// even a null one.
func TestNoChildNoChildField(t *testing.T) {
	srv := serve(t, newFake(leader()), noHeartbeat)
	hasChild := func(what, data string) {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("%s: %v in %s", what, err, data)
		}
		if _, ok := m["child"]; ok {
			t.Errorf("%s = %s; want no child key", what, data)
		}
		if _, ok := m["leader"]; !ok {
			t.Errorf("%s = %s; want a status body", what, data)
		}
	}
	_, body := do(t, http.MethodGet, srv.URL+"/leader", "", "", nil)
	hasChild("GET /leader", body)
	_, items := stream(t, t.Context(), srv.URL)
	hasChild("first event", nextEvent(t, items).data)
}

// A change of the child alone makes an event, when it changes what a
// watcher sees; the event's id stays the election's generation.
func TestWatchChildChanges(t *testing.T) {
	f := newFake(longTerm())
	c := newFakeChild(api.ChildState{})
	srv := serve(t, f, api.Options{Child: c, HeartbeatInterval: time.Hour})
	_, items := stream(t, t.Context(), srv.URL)
	if it := nextEvent(t, items); !strings.Contains(it.data, `"child":{"running":false,"stopping":false,"restarts":0}`) {
		t.Fatalf("first event data = %s; want a child not yet started", it.data)
	}

	const head = `{"leader":true,"identity":"pod-a","holder":"pod-a","fence":42,"remaining_ms":3600000,` +
		`"term_start":"2025-01-02T02:04:05.000000006Z","lock":"jobs","child":`
	exited := api.ChildExit{Code: 3, At: childStarted.Add(-time.Second)}
	steps := []struct {
		name  string
		st    api.ChildState
		event bool
		want  string // the child field
	}{
		{
			name: "started", event: true,
			st:   api.ChildState{Running: true, PID: 4242, Started: childStarted},
			want: `{"running":true,"pid":4242,"started":"2025-01-02T02:05:00.000000007Z","stopping":false,"restarts":0}`,
		},
		{
			// Like the supervisor's own bookkeeping (its Starts, Stopped,
			// Generation): a wake-up the body does not show.
			name: "unchanged", event: false,
			st: api.ChildState{Running: true, PID: 4242, Started: childStarted},
		},
		{
			name: "exited", event: true,
			st:   api.ChildState{LastExit: &exited},
			want: `{"running":false,"stopping":false,"restarts":0,"last_exit":{"code":3,"at":"2025-01-02T02:04:59.000000007Z","by_baton":false}}`,
		},
		{
			// The same last exit, read into a new ChildExit.
			name: "same exit again", event: false,
			st: api.ChildState{LastExit: &api.ChildExit{Code: 3, At: childStarted.Add(-time.Second)}},
		},
		{
			// Not shown while no child runs, so no event either.
			name: "pid of no running child", event: false,
			st: api.ChildState{PID: 7, Started: childStarted, Stopping: true, LastExit: &exited},
		},
		{
			name: "restarted", event: true, st: running(),
			want: `{"running":true,"pid":4242,"started":"2025-01-02T02:05:00.000000007Z","stopping":false,"restarts":1,` +
				`"last_exit":{"code":3,"at":"2025-01-02T02:04:59.000000007Z","by_baton":false}}`,
		},
	}
	// The stream delivers events in order, so a change that makes no event
	// shows as the next event being the following change's.
	for _, s := range steps {
		c.awaitRead(t, c.set(s.st))
		if !s.event {
			continue
		}
		it := nextEvent(t, items)
		if want := head + s.want + "}"; it.data != want {
			t.Fatalf("after %q: event data =\n%s\nwant\n%s", s.name, it.data, want)
		}
		if it.id != "1" {
			t.Fatalf("after %q: event id = %s; want 1, the election's generation", s.name, it.id)
		}
	}
}

// Renewals still make no event with a child: its state, read anew at each
// wake-up (a LastExit at a new address each time), compares by value.
func TestWatchRenewalsWithChild(t *testing.T) {
	f := newFake(longTerm())
	c := newFakeChild(running())
	srv := serve(t, f, api.Options{Child: c, HeartbeatInterval: time.Hour})
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)
	gen := uint64(1)
	for i := range 20 {
		st := longTerm()
		gen++
		st.Generation = gen
		st.Remaining = time.Duration(i%7+3) * time.Hour
		f.set(st)
		f.awaitRead(t, gen)
	}
	// The child's reads follow the elector's; the next change is the
	// child's own, so the event that follows is the first since the start.
	stopping := running()
	stopping.Stopping = true
	c.awaitRead(t, c.set(stopping))
	it := nextEvent(t, items)
	if want := "21"; it.id != want || !strings.Contains(it.data, `"stopping":true`) {
		t.Fatalf("first event after the renewals = id %s data %s; want id %s with the child stopping", it.id, it.data, want)
	}
}

// Every field of the child a watcher sees makes an event when it alone
// changes.
func TestWatchEveryChildFieldMakesAnEvent(t *testing.T) {
	tests := []struct {
		name   string
		change func(*api.ChildState)
		want   string // in the event's data
	}{
		{"running", func(c *api.ChildState) { c.Running = false }, `"child":{"running":false,`},
		{"pid", func(c *api.ChildState) { c.PID = 4343 }, `"pid":4343`},
		{"started", func(c *api.ChildState) { c.Started = c.Started.Add(time.Second) }, `"started":"2025-01-02T02:05:01.000000007Z"`},
		{"stopping", func(c *api.ChildState) { c.Stopping = true }, `"stopping":true`},
		{"restarts", func(c *api.ChildState) { c.Restarts = 2 }, `"restarts":2`},
		{"first exit", func(c *api.ChildState) { c.LastExit = nil }, `"restarts":1}`},
		{"exit code", func(c *api.ChildState) { c.LastExit.Code = 4 }, `"code":4`},
		{"signal", func(c *api.ChildState) { c.LastExit.Code, c.LastExit.Signal = -1, "SIGKILL" }, `"signal":"SIGKILL"`},
		{"start error", func(c *api.ChildState) { c.LastExit.StartError = "permission denied" }, `"start_error":"permission denied"`},
		{"exit time", func(c *api.ChildState) { c.LastExit.At = childStarted }, `"at":"2025-01-02T02:05:00.000000007Z"`},
		{"by baton", func(c *api.ChildState) { c.LastExit.ByBaton = true }, `"by_baton":true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeChild(running())
			srv := serve(t, newFake(longTerm()), api.Options{Child: c, HeartbeatInterval: time.Hour})
			_, items := stream(t, t.Context(), srv.URL)
			nextEvent(t, items)
			st := running()
			exit := *st.LastExit
			st.LastExit = &exit
			tt.change(&st)
			c.set(st)
			if it := nextEvent(t, items); !strings.Contains(it.data, tt.want) {
				t.Fatalf("event data = %s; want %s", it.data, tt.want)
			}
		})
	}
}

// A change of the election shows the child as it is then.
func TestWatchElectionChangeCarriesChild(t *testing.T) {
	f := newFake(follower())
	srv := serve(t, f, api.Options{Child: newFakeChild(running()), HeartbeatInterval: time.Hour})
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)
	st := leader()
	st.Generation = 2
	f.set(st)
	it := nextEvent(t, items)
	if it.id != "2" || !strings.Contains(it.data, `"leader":true`) || !strings.Contains(it.data, `"pid":4242`) {
		t.Fatalf("event = id %s data %s; want id 2, leader, with the child", it.id, it.data)
	}
}

// A long-poll is about leadership: a change of the child leaves it
// waiting, and its answer carries the child as it is then.
func TestLongPollIgnoresChild(t *testing.T) {
	f := newFake(follower())
	c := newFakeChild(api.ChildState{})
	srv := serve(t, f, api.Options{Child: c})
	done := getAsync(t.Context(), srv.URL+"/leader?wait=5m")
	f.awaitRead(t, 1)
	// The long-poll does not read the child while it waits, so there is no
	// read to wait for: a wrong wake-up would answer at once, as the
	// follower's 503, which the check after leadership catches.
	c.set(api.ChildState{LastExit: &api.ChildExit{Code: 1}})
	c.set(running())

	st := leader()
	st.Generation = 2
	f.set(st)
	r := await(t, done)
	if r.err != nil || r.code != http.StatusOK || !strings.Contains(r.body, `"child":{"running":true,"pid":4242,`) {
		t.Fatalf("long-poll = %d %s %v; want 200 with the running child", r.code, r.body, r.err)
	}
}
