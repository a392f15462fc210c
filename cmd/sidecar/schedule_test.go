package main

import (
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

func testScheduler(t *testing.T, spec string, deadline time.Duration) *scheduler {
	t.Helper()
	sched, err := runs.ParseSchedule(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	return &scheduler{cfg: &config{Schedule: scheduleConfig{AttemptDeadline: deadline}}, sched: sched}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSchedulerNext(t *testing.T) {
	for _, tc := range []struct {
		name      string
		deadline  time.Duration
		now, last string
		want      string
	}{
		{"first: the next window, not the open one", 0, "2026-01-01T00:00:12.5Z", "", "2026-01-01T00:00:20Z"},
		{"after a window: the next one", 0, "2026-01-01T00:00:12.5Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z"},
		{"busy past a start: join the open window late", 0, "2026-01-01T00:00:21Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z"},
		{"busy past its attempt deadline: the next one", 500 * time.Millisecond, "2026-01-01T00:00:21Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:30Z"},
		{"Redis time read behind the last window", 0, "2026-01-01T00:00:19.999Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z"},
		{"Redis time read at the last window", 0, "2026-01-01T00:00:20Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testScheduler(t, "@every 10s", tc.deadline)
			var last time.Time
			if tc.last != "" {
				last = at(tc.last)
			}
			if got := s.next(at(tc.now), last); !got.Equal(at(tc.want)) {
				t.Errorf("next(%s, %s) = %s, want %s", tc.now, tc.last, got.Format(time.RFC3339Nano), tc.want)
			}
		})
	}
}

func TestSchedulerCountMissed(t *testing.T) {
	s := testScheduler(t, "@every 10s", 0)
	rec := func(windows ...string) runs.Info {
		var info runs.Info
		for _, w := range windows {
			info.Recent = append(info.Recent, runs.Record{Window: w})
		}
		return info
	}
	for _, tc := range []struct {
		name          string
		info          runs.Info
		after, until  string
		n             int
		first, latest string
	}{
		{"no record: nothing", rec(), "", "2026-01-01T00:01:00Z", 0, "", ""},
		{"only names that are not times: nothing", rec("invoice-4711"), "", "2026-01-01T00:01:00Z", 0, "", ""},
		{"none missed", rec("2026-01-01T00:00:50Z"), "", "2026-01-01T00:00:59Z", 0, "", ""},
		{"the latest record counts, in any order", rec("2026-01-01T00:00:10Z", "2026-01-01T00:00:30Z", "x"), "", "2026-01-01T00:00:55Z",
			2, "2026-01-01T00:00:40Z", "2026-01-01T00:00:50Z"},
		{"the window open at until counts", rec("2026-01-01T00:00:30Z"), "", "2026-01-01T00:00:40Z", 1, "2026-01-01T00:00:40Z", "2026-01-01T00:00:40Z"},
		{"capped", rec("2000-01-01T00:00:00Z"), "", "2026-01-01T00:00:00Z", maxMissedCount, "2000-01-01T00:00:10Z", "2000-01-12T13:46:40Z"},
		{"later: the gaps since the last count", rec("2026-01-01T00:01:00Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:10Z"),
			"2026-01-01T00:00:10Z", "2026-01-01T00:01:05Z", 3, "2026-01-01T00:00:30Z", "2026-01-01T00:00:50Z"},
		{"later: nothing before the last count", rec("2026-01-01T00:01:00Z", "2026-01-01T00:00:10Z"),
			"2026-01-01T00:00:50Z", "2026-01-01T00:01:05Z", 0, "", ""},
		{"later: nothing before the oldest record", rec("2026-01-01T00:01:00Z", "2026-01-01T00:00:40Z"),
			"2026-01-01T00:00:00Z", "2026-01-01T00:01:05Z", 1, "2026-01-01T00:00:50Z", "2026-01-01T00:00:50Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var after time.Time
			if tc.after != "" {
				after = at(tc.after)
			}
			n, first, latest, _ := s.countMissed(tc.info, after, at(tc.until))
			if n != tc.n {
				t.Fatalf("n = %d, want %d", n, tc.n)
			}
			if n > 0 && (!first.Equal(at(tc.first)) || !latest.Equal(at(tc.latest))) {
				t.Errorf("first, latest = %s, %s; want %s, %s", first, latest, tc.first, tc.latest)
			}
		})
	}
}

// TestSchedulerRetry: a failed call is retried within a tenth of a window,
// so that a window of a second runs when Redis comes back early in it;
// long windows keep one retry a second.
func TestSchedulerRetry(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want time.Duration
	}{
		{"@every 1s", 100 * time.Millisecond},
		{"* * * * * *", 100 * time.Millisecond},
		{"@every 5s", 500 * time.Millisecond},
		{"@every 1m", time.Second},
		{"@daily", time.Second},
	} {
		if got := testScheduler(t, tc.spec, 0).retry(); got != tc.want {
			t.Errorf("%s: retry %v, want %v", tc.spec, got, tc.want)
		}
	}
}
