package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

// The schedule scene's checks must be able to fail: each case breaks one
// rule, and the check must name it.

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// rec is attempt n of the window at t0 + i windows, from ms after its
// start to end ms.
func rec(i, n int, status runs.Status, who string, fence uint64, from, to int) runs.Record {
	w := t0.Add(time.Duration(i) * schedEvery)
	return runs.Record{Window: runs.WindowName(w), Attempt: n, Status: status, Identity: who, Fence: fence,
		Start: w.Add(time.Duration(from) * time.Millisecond), End: w.Add(time.Duration(to) * time.Millisecond)}
}

// goodRecord: windows 0 to 3, window 2 killed on b and retried on c.
func goodRecord() []runs.Record {
	return []runs.Record{
		rec(3, 1, runs.Succeeded, "a", 5, 0, 400),
		rec(2, 2, runs.Succeeded, "c", 4, 800, 1200),
		rec(2, 1, runs.Lost, "b", 3, 0, 800),
		rec(1, 1, runs.Succeeded, "b", 2, 0, 400),
		rec(0, 1, runs.Succeeded, "a", 1, 0, 400),
	}
}

func TestCheckRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func([]runs.Record) []runs.Record
		want   string // "" for no error
	}{
		{"good", func(r []runs.Record) []runs.Record { return r }, ""},
		{"twice to success", func(r []runs.Record) []runs.Record {
			return append(r, rec(1, 2, runs.Succeeded, "c", 6, 500, 900))
		}, "window 2026-12-07T10:00:02Z: 2 successes recorded"},
		{"no success", func(r []runs.Record) []runs.Record {
			r[0].Status = runs.Failed
			return r
		}, "window 2026-12-07T10:00:06Z: 0 successes recorded"},
		{"overlap", func(r []runs.Record) []runs.Record {
			r[1].Start = r[2].End.Add(-time.Millisecond)
			return r
		}, "window 2026-12-07T10:00:04Z overlapped"},
		{"fence", func(r []runs.Record) []runs.Record {
			r[1].Fence = 3
			return r
		}, "attempt 2's fence 3 is not above attempt 1's 3"},
		{"missed", func(r []runs.Record) []runs.Record { return append(r[:3], r[4]) }, "window 2026-12-07T10:00:02Z: no run recorded"},
		{"killed window not retried", func(r []runs.Record) []runs.Record {
			r[2].Status = runs.Succeeded
			return append(r[:1], r[2:]...)
		}, "the killed one: want attempt 1 lost by b"},
		{"retried by the victim", func(r []runs.Record) []runs.Record {
			r[1].Identity = "b"
			return r
		}, "the killed one"},
		{"outside the scene", func(r []runs.Record) []runs.Record {
			return append(r, rec(4, 1, runs.Succeeded, "a", 7, 0, 400))
		}, "window 2026-12-07T10:00:08Z is recorded, but"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &windowWatch{first: runs.WindowName(t0), victim: "b",
				killed: schedEvent{window: runs.WindowName(t0.Add(2 * schedEvery))}, retry: schedEvent{replica: "c"}}
			err := checkRecord(runs.Info{Recent: tc.change(goodRecord())}, w, runs.WindowName(t0.Add(3*schedEvery)))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("checkRecord: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("checkRecord: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestWindowWatch(t *testing.T) {
	ev := func(kind jobEventKind, who, window string, attempt, pid int) schedEvent {
		return schedEvent{kind: kind, replica: who, window: window, attempt: attempt, pid: pid}
	}
	for _, tc := range []struct {
		name   string
		events []schedEvent
		want   string // the last event's error; "" for none
	}{
		{"one run per window", []schedEvent{
			ev(jobStarted, "a", "W1", 1, 10), ev(jobDone, "a", "W1", 1, 10),
			ev(jobStarted, "b", "W2", 1, 11), ev(jobDone, "b", "W2", 1, 11),
		}, ""},
		{"retry after the killed job is gone", []schedEvent{
			ev(jobStarted, "a", "W1", 1, 10), ev(jobGone, "a", "W1", 1, 10),
			ev(jobStarted, "b", "W1", 2, 11), ev(jobDone, "b", "W1", 2, 11),
		}, ""},
		{"overlap", []schedEvent{
			ev(jobStarted, "a", "W1", 1, 10), ev(jobStarted, "b", "W1", 2, 11),
		}, "window W1 overlapped: attempt 2 started on b while attempt 1 still ran on a"},
		{"again after success", []schedEvent{
			ev(jobStarted, "a", "W1", 1, 10), ev(jobDone, "a", "W1", 1, 10), ev(jobStarted, "b", "W1", 2, 11),
		}, "window W1 ran again"},
		{"twice to success", []schedEvent{
			ev(jobStarted, "a", "W1", 1, 10), ev(jobDone, "a", "W1", 1, 10), ev(jobDone, "b", "W1", 2, 11),
		}, "window W1 ran twice to success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := make(chan schedEvent, len(tc.events))
			w := newWindowWatch(events)
			var err error
			for i, e := range tc.events {
				events <- e
				if _, err = w.next(context.Background(), time.Second); err != nil && i < len(tc.events)-1 {
					t.Fatalf("event %d: %v", i, err)
				}
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("last event: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("last event: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestParseJobLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want schedEvent
		ok   bool
	}{
		{"window 2026-12-07T10:00:02Z attempt 2 fence 17 pid 42: working 0.4 s",
			schedEvent{kind: jobStarted, window: "2026-12-07T10:00:02Z", attempt: 2, fence: 17, pid: 42}, true},
		{"window 2026-12-07T10:00:02Z attempt 1 fence 17 pid 42: done",
			schedEvent{kind: jobDone, window: "2026-12-07T10:00:02Z", attempt: 1, fence: 17, pid: 42}, true},
		{"window 2026-12-07T10:00:02Z attempt 1 fence 17 pid 42: resting", schedEvent{}, false},
		{"hello", schedEvent{}, false},
	} {
		got, ok := parseJobLine("a", tc.line)
		if ok != tc.ok {
			t.Errorf("parseJobLine(%q) ok = %v, want %v", tc.line, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		tc.want.replica, tc.want.at = "a", got.at
		if got != tc.want {
			t.Errorf("parseJobLine(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}
