package chaos

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

// TestCheckSchedule: each rule of CheckSchedule fails a history that
// breaks it, and passes one that keeps it.
func TestCheckSchedule(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(d int) time.Duration { return time.Duration(d) * time.Millisecond }
	wall := func(w, d int) int64 { return t0.Add(time.Duration(w)*time.Second + ms(d)).UnixNano() }
	// attempt n of window w, its job run from the window's start + from ms
	// to + to ms (the monotonic clock is the wall clock here), recorded with
	// status and exited with exit.
	at := func(w, n, from, to int, status runs.Status, exit string) SchedAttempt {
		win := t0.Add(time.Duration(w) * time.Second)
		return SchedAttempt{Window: win, RunID: string(rune('a'+w)) + string(rune('0'+n)), Attempt: n, Identity: "s1",
			Stamped: true, Start: wall(w, from), End: wall(w, to), StartWall: wall(w, from), EndWall: wall(w, to), Exit: exit,
			Recorded: true, Status: status, RecordStart: win.Add(ms(from)), RecordEnd: win.Add(ms(to))}
	}
	ok := func(w int) SchedAttempt { return at(w, 1, 5, 100, runs.Succeeded, "0") }
	redisDown := func(from, to int64) Outage {
		return Outage{Kind: "redis restart", Target: "redis", From: from, To: to, Heavy: true}
	}
	for _, tc := range []struct {
		name     string
		attempts []SchedAttempt
		outages  []Outage
		want     string // a problem's text; "" for none
	}{
		{"every window once", []SchedAttempt{ok(0), ok(1), ok(2)}, nil, ""},
		{"a retry after a failure", []SchedAttempt{ok(0), at(1, 1, 5, 50, runs.Failed, "1"), at(1, 2, 60, 90, runs.Succeeded, "0"), ok(2)}, nil, ""},
		{"succeeded twice", []SchedAttempt{ok(0), ok(1), at(1, 2, 200, 300, runs.Succeeded, "0"), ok(2)}, nil, "succeeded twice"},
		{"ran after its success", []SchedAttempt{ok(0), ok(1), at(1, 2, 200, 300, runs.Failed, "1"), ok(2)}, nil, "after its success"},
		{"attempts overlap", []SchedAttempt{ok(0), at(1, 1, 5, 100, runs.Lost, "gone"), at(1, 2, 90, 200, runs.Succeeded, "0"), ok(2)}, nil, "ran at once"},
		{"missed while all was well", []SchedAttempt{ok(0), ok(2)}, nil, "missed while Redis was up"},
		{"missed, Redis down at the start", []SchedAttempt{ok(0), ok(2)}, []Outage{redisDown(wall(0, 900), wall(1, 500))}, ""},
		{"missed, Redis back early", []SchedAttempt{ok(0), ok(2)}, []Outage{redisDown(wall(0, 900), wall(1, 200))}, "missed while Redis was up"},
		{"missed, the only replica stopped", []SchedAttempt{ok(0), ok(2)}, []Outage{{Kind: "sigstop", Target: "s1", From: wall(0, 500), To: wall(2, 0), Heavy: true}}, ""},
		{"missed, light latency", []SchedAttempt{ok(0), ok(2)}, []Outage{{Kind: "latency", Target: "s1", From: wall(0, 500), To: wall(2, 0)}}, "missed while Redis was up"},
		{"success not recorded, no fault", []SchedAttempt{ok(0), at(1, 1, 5, 100, runs.Lost, "0"), at(1, 2, 600, 700, runs.Succeeded, "0"), ok(2)}, nil, "no fault explains it"},
		{"success not recorded, runner killed", []SchedAttempt{ok(0), at(1, 1, 5, 100, runs.Lost, "0"), at(1, 2, 600, 700, runs.Succeeded, "0"), ok(2)},
			[]Outage{{Kind: "kill -9", Target: "s1", From: wall(1, 100), To: math.MaxInt64, Heavy: true}}, ""},
		{"stamped, not recorded", []SchedAttempt{ok(0), func() SchedAttempt { a := ok(1); a.Recorded, a.Status = false, ""; return a }(), ok(2)}, nil, "not in the record"},
		{"recorded succeeded, job failed", []SchedAttempt{ok(0), at(1, 1, 5, 100, runs.Succeeded, "1"), ok(2)}, nil, "did not exit 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckSchedule(ScheduleInput{
				Every: time.Second, From: t0, To: t0.Add(3 * time.Second), Attempts: tc.attempts, Outages: tc.outages,
				Lives: []Life{{Name: "s1", From: wall(-10, 0)}}, Recover: ms(300), Claim: ms(300), Explain: ms(1500),
			})
			got := strings.Join(r.Problems(), "\n")
			if r.Windows != 3 {
				t.Errorf("%d windows, want 3", r.Windows)
			}
			switch {
			case tc.want == "" && got != "":
				t.Errorf("problems:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("problems %q, want one with %q", got, tc.want)
			}
		})
	}
}
