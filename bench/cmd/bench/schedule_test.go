package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/bench/internal/stats"
)

func TestParseRunStamp(t *testing.T) {
	w := time.Date(2026, 12, 7, 10, 0, 5, 0, time.UTC)
	tests := []struct {
		line    string
		want    runStamp
		wantErr bool
	}{
		{line: "1796639105004000000 2026-12-07T10:00:05Z 2026-12-07T10:00:05.000693Z r1 1",
			want: runStamp{wall: 1796639105004000000, window: w, claim: w.Add(693 * time.Microsecond), identity: "r1", attempt: 1}},
		{line: "1 2026-12-07T10:00:05Z 2026-12-07T10:00:05Z r1", wantErr: true},     // no attempt
		{line: "x 2026-12-07T10:00:05Z 2026-12-07T10:00:05Z r1 1", wantErr: true},   // wall
		{line: "1 - 2026-12-07T10:00:05Z r1 1", wantErr: true},                      // BATON_RUN_WINDOW unset
		{line: "1 2026-12-07T10:00:05Z - r1 1", wantErr: true},                      // BATON_TERM_START unset
		{line: "1 2026-12-07T10:00:05Z 2026-12-07T10:00:05Z r1 0", wantErr: true},   // attempts count from 1
		{line: "1 2026-12-07T10:00:05Z 2026-12-07T10:00:05Z r1 1 x", wantErr: true}, // a sixth field
	}
	for _, tt := range tests {
		got, err := parseRunStamp(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseRunStamp(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseRunStamp(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestReadRunStamps(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stamps")
	if ss, err := readRunStamps(p); err != nil || len(ss) != 0 {
		t.Errorf("missing file: %v, %v; want no stamps and no error", ss, err)
	}
	// The last line is still being written: it is not read yet.
	if err := os.WriteFile(p, []byte("1 2026-12-07T10:00:05Z 2026-12-07T10:00:05Z r1 1\n2 2026-12-07T10:00:06Z 2026"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ss, err := readRunStamps(p); err != nil || len(ss) != 1 || ss[0].wall != 1 {
		t.Errorf("readRunStamps = %+v, %v; want the first line only", ss, err)
	}
	if err := os.WriteFile(p, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readRunStamps(p); err == nil {
		t.Error("bad line: no error")
	}
}

func TestParseMonitor(t *testing.T) {
	tests := []struct {
		line     string
		wantAddr string
		wantArgs []string
		wantAt   time.Time
		wantErr  bool
	}{
		{line: `1796639111.338780 [0 127.0.0.1:44608] "hello" "3" "setname" "baton:r1"`, wantAddr: "127.0.0.1:44608",
			wantArgs: []string{"hello", "3", "setname", "baton:r1"}, wantAt: time.Unix(1796639111, 338780000)},
		{line: `1796639111.000001 [0 lua] "TIME"`, wantAddr: "lua", wantArgs: []string{"TIME"}, wantAt: time.Unix(1796639111, 1000)},
		{line: `1.000000 [0 unix:/tmp/r.sock] "eval" "a\"b\\c\n\x41" "0"`, wantAddr: "unix:/tmp/r.sock",
			wantArgs: []string{"eval", "a\"b\\c\nA", "0"}, wantAt: time.Unix(1, 0)},
		{line: `1.000000 [0 127.0.0.1:1] "get" ""`, wantAddr: "127.0.0.1:1", wantArgs: []string{"get", ""}, wantAt: time.Unix(1, 0)},
		{line: `OK`, wantErr: true},
		{line: `1.5 [0 127.0.0.1:1] "get"`, wantErr: true}, // microseconds have six digits
		{line: `1.000000 [0] "get"`, wantErr: true},
		{line: `1.000000 [0 127.0.0.1:1] get`, wantErr: true},
		{line: `1.000000 [0 127.0.0.1:1] "get`, wantErr: true},
		{line: `1.000000 [0 127.0.0.1:1] "\xZZ"`, wantErr: true},
		{line: `1.000000 [0 127.0.0.1:1] `, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseMonitor(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseMonitor(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			continue
		}
		if err == nil && (got.addr != tt.wantAddr || !reflect.DeepEqual(got.args, tt.wantArgs) || !got.at.Equal(tt.wantAt)) {
			t.Errorf("parseMonitor(%q) = %+v, want %s %q at %v", tt.line, got, tt.wantAddr, tt.wantArgs, tt.wantAt)
		}
	}
}

// monitorLines parses lines for a test.
func monitorLines(t *testing.T, lines ...string) []monitorLine {
	t.Helper()
	var out []monitorLine
	for _, s := range lines {
		l, err := parseMonitor(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func TestCmdTally(t *testing.T) {
	tally := newCmdTally(time.Second)
	for _, l := range monitorLines(t,
		// Window 100 (99.5 s to 100.5 s): a runs it, b waits, c sends
		// nothing; a's connection opened in it.
		`99.600000 [0 127.0.0.1:1] "hello" "3" "setname" "baton:a"`,
		`99.600001 [0 127.0.0.1:1] "client" "setname" "baton:a"`,
		`99.700000 [0 127.0.0.1:2] "hello" "3" "setname" "baton:b"`,
		`99.999000 [0 127.0.0.1:1] "evalsha" "x" "5"`, // woken early: still window 100
		`100.000100 [0 127.0.0.1:2] "evalsha" "x" "5"`,
		`100.000200 [0 lua] "TIME"`,                   // run inside a script: nobody's
		`100.000300 [0 127.0.0.1:3] "subscribe" "ch"`, // b's pub/sub connection, named in window 101
		`100.000400 [0 127.0.0.1:9] "echo" "x"`,       // a connection that named itself nothing
		`100.010000 [0 127.0.0.1:1] "evalsha" "y" "5"`,
		// Window 101: b runs it, a sends 2.
		`100.600000 [0 127.0.0.1:3] "hello" "3" "setname" "baton:b"`,
		`101.000100 [0 127.0.0.1:2] "evalsha" "x" "5"`,
		`101.000200 [0 127.0.0.1:1] "evalsha" "x" "5"`,
		`101.000300 [0 127.0.0.1:3] "SUBSCRIBE" "ch"`,
		`101.010000 [0 127.0.0.1:1] "evalsha" "x" "5"`,
	) {
		tally.add(l)
	}
	got := tally.perWindow(map[int64]string{100: "a", 101: "b"}, []string{"a", "b", "c"})
	want := &ScheduleCommands{
		Windows: 2,
		// a in 100: hello, client, evalsha ×2 (4); b in 101: hello, evalsha, subscribe (3).
		Runner: 3.5, RunnerCmds: map[string]float64{"hello": 1, "client": 0.5, "evalsha": 1.5, "subscribe": 0.5},
		// b in 100: hello, evalsha (2); c: 0, 0; a in 101: evalsha ×2 (2). The commands of
		// 127.0.0.1:3 before it named itself are nobody's.
		NonRunner: 1, NonRunnerMax: 2, NonRunnerCmds: map[string]float64{"hello": 0.25, "evalsha": 0.75},
		Dials: 1.5, // a and b in 100, b's second in 101
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("perWindow = %+v\nwant %+v", got, want)
	}
	if got := tally.perWindow(nil, []string{"a", "b"}); got.Windows != 0 || got.Runner != 0 || got.NonRunner != 0 {
		t.Errorf("no windows: %+v, want zeros", got)
	}
}

func TestReadWindowLogs(t *testing.T) {
	p := writeLog(t,
		`{"time":"2026-12-07T10:00:05.0012Z","msg":"running the window's job","window":"2026-12-07T10:00:05Z"}`,
		`{"time":"2026-12-07T10:00:05.0060Z","msg":"child started","window":"2026-12-07T10:00:05Z","pid":7}`,
		`{"time":"2026-12-07T10:00:05.0200Z","msg":"running the window's job","window":"2026-12-07T10:00:05Z"}`, // a retry: the first stays
		`{"time":"2026-12-07T10:00:06.0010Z","msg":"run recorded","window":"2026-12-07T10:00:06Z"}`,
		`not json`,
	)
	got := map[int64]windowLog{}
	if err := readWindowLogs(p, got); err != nil {
		t.Fatal(err)
	}
	w := time.Date(2026, 12, 7, 10, 0, 5, 0, time.UTC)
	want := map[int64]windowLog{w.UnixNano(): {running: w.Add(1200 * time.Microsecond), started: w.Add(6 * time.Millisecond)}}
	if len(got) != 1 || !got[w.UnixNano()].running.Equal(want[w.UnixNano()].running) || !got[w.UnixNano()].started.Equal(want[w.UnixNano()].started) {
		t.Errorf("readWindowLogs = %+v, want %+v", got, want)
	}
}

func TestPhaseFigures(t *testing.T) {
	w0 := time.Date(2026, 12, 7, 10, 0, 5, 0, time.UTC)
	at := func(w time.Time, d time.Duration) time.Time { return w.Add(d) }
	const offset = 100 * time.Microsecond // Redis TIME runs 0.1 ms ahead of the wall clock
	wall := func(w time.Time, d time.Duration) int64 { return w.Add(d - offset).UnixNano() }
	w1, w3 := w0.Add(time.Second), w0.Add(3*time.Second) // w0+2s: no run
	ss := []runStamp{
		{wall: wall(w0, 9*time.Millisecond), window: w0.Add(-time.Second), claim: w0, identity: "a", attempt: 1}, // before first: left out
		{wall: wall(w0, 8*time.Millisecond), window: w0, claim: at(w0, time.Millisecond), identity: "a", attempt: 1},
		{wall: wall(w1, 6*time.Millisecond), window: w1, claim: at(w1, 2*time.Millisecond), identity: "b", attempt: 1},
		// w2: none. w3: two attempts; the first is timed, and no runner.
		{wall: wall(w3, 900*time.Millisecond), window: w3, claim: at(w3, 890*time.Millisecond), identity: "a", attempt: 2},
		{wall: wall(w3, 4*time.Millisecond), window: w3, claim: at(w3, time.Millisecond), identity: "b", attempt: 1},
	}
	logs := map[int64]windowLog{
		w0.UnixNano(): {running: at(w0, 2*time.Millisecond-offset), started: at(w0, 7*time.Millisecond-offset)},
	}
	p, runners := phaseFigures(ss, logs, offset, w0, w3, time.Second)
	if p.Windows != 4 || p.Missed != 1 || p.Retried != 1 {
		t.Errorf("windows %d, missed %d, retried %d; want 4, 1, 1", p.Windows, p.Missed, p.Retried)
	}
	wantRunners := map[int64]string{w0.Unix(): "a", w1.Unix(): "b"}
	if !reflect.DeepEqual(runners, wantRunners) {
		t.Errorf("runners = %v, want %v", runners, wantRunners)
	}
	ms := func(ds ...time.Duration) stats.Summary {
		for i := range ds {
			ds[i] *= time.Millisecond
		}
		return stats.Summarize(ds)
	}
	for _, c := range []struct {
		name      string
		got, want stats.Summary
	}{
		{"latency", p.Latency, ms(8, 6, 4)},
		{"wake", p.Wake, ms(1, 2, 1)},
		{"claim", p.Claim, ms(1)},
		{"spawn", p.Spawn, ms(5)},
		{"job", p.Job, ms(1)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func TestScheduleTable(t *testing.T) {
	ms := func(d time.Duration) stats.Summary { return stats.Summarize([]time.Duration{d * time.Millisecond}) }
	s := &ScheduleResult{Every: "1s", LeaseTTL: "2s", Phases: []*SchedulePhase{
		{Replicas: 3, Windows: 1, Latency: ms(8), Wake: ms(1), Claim: ms(1), Spawn: ms(5), Job: ms(1)},
		{Replicas: 30, Monitor: true, Windows: 2, Missed: 1, Latency: ms(9), Commands: &ScheduleCommands{
			Windows: 1, Runner: 4, RunnerCmds: map[string]float64{"evalsha": 4},
			NonRunner: 6, NonRunnerMax: 7, NonRunnerCmds: map[string]float64{"evalsha": 4, "subscribe": 1, "unsubscribe": 1, "hello": 0.00345}}},
	}}
	got := scheduleTable(s)
	for _, want := range []string{
		"| Window start (Redis TIME) to the job's start, 3 replicas, n=1 | p50 8.00 ms, p99 8.00 ms, max 8.00 ms | p99 ≤ 10 ms |",
		"to \"child started\" | p50 5.00 ms",
		"30 replicas, MONITOR on, n=1 | p50 9.00 ms",
		"| Windows without a run / with more than one attempt, of 2 | 1 / 0 | 0 / 0 |",
		"30 replicas (n=1 windows): the runner | 4.00 (`evalsha` 4.00) |",
		"| 6.00 (7): `evalsha` 4.00, `subscribe` 1.00, `unsubscribe` 1.00, `hello` 0.00345 | O(1): flat in N |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "wake-up") != 1 {
		t.Errorf("the split is for the run without MONITOR only:\n%s", got)
	}
}
