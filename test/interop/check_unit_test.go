//go:build linux

package interop

import (
	"strings"
	"testing"

	"github.com/baton-dev/baton/test/interop/internal/stamp"
)

// The checker finds what it must: an overlap of one nanosecond, a killed
// job that outlived its successor's start, and it clips a stopped client-go
// elector but not a baton job.
func TestCheck(t *testing.T) {
	bj := func(pid int, start, end int64) interval {
		return interval{side: stamp.Baton, identity: "b", pid: pid, start: start, endStamp: end, stamps: []int64{start, end}}
	}
	cg := func(pid int, start, end int64, stamps ...int64) interval {
		return interval{side: stamp.ClientGo, identity: "c", pid: pid, start: start, endStamp: end, stamps: append(append([]int64{start}, stamps...), end)}
	}
	cases := []struct {
		name     string
		ivs      []interval
		deaths   map[int]int64
		stops    []sigstop
		overlaps int
		stale    int
		problem  string
	}{
		{name: "disjoint", ivs: []interval{bj(1, 10, 20), cg(2, 21, 30), bj(3, 31, 40)}},
		{name: "one nanosecond", ivs: []interval{bj(1, 10, 21), cg(2, 20, 30)}, overlaps: 1},
		{name: "killed job ends at its death", ivs: []interval{bj(1, 10, 0), cg(2, 20, 30)}, deaths: map[int]int64{1: 25}, overlaps: 1},
		{name: "killed job dead in time", ivs: []interval{bj(1, 10, 0), cg(2, 20, 30)}, deaths: map[int]int64{1: 19}},
		{name: "stopped client-go is clipped", ivs: []interval{cg(1, 10, 60, 12, 55), bj(2, 30, 40)},
			stops: []sigstop{{pid: 1, stopped: 15, resumed: 50}}, stale: 2},
		{name: "stopped client-go, successor too early", ivs: []interval{cg(1, 10, 60), bj(2, 14, 40)},
			stops: []sigstop{{pid: 1, stopped: 15, resumed: 50}}, overlaps: 1, stale: 1},
		{name: "a baton job is not clipped", ivs: []interval{bj(1, 10, 60), cg(2, 30, 40)},
			stops: []sigstop{{pid: 1, stopped: 15, resumed: 50}}, overlaps: 1},
		{name: "stamp while stopped", ivs: []interval{cg(1, 10, 60, 20)},
			stops: []sigstop{{pid: 1, stopped: 15, resumed: 50}}, stale: 1, problem: "while stopped"},
		{name: "no end", ivs: []interval{bj(1, 10, 0), cg(2, 20, 30)}, overlaps: 1, problem: "without an end"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, problems := resolve(tc.ivs, tc.deaths, tc.stops)
			if got := len(overlaps(rs)); got != tc.overlaps {
				t.Errorf("%d overlaps, want %d", got, tc.overlaps)
			}
			stale := 0
			for _, r := range rs {
				stale += len(r.stale)
			}
			if stale != tc.stale {
				t.Errorf("%d stale stamps, want %d", stale, tc.stale)
			}
			if got := strings.Join(problems, "; "); (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
				t.Errorf("problems %q, want one with %q", got, tc.problem)
			}
		})
	}
}

// A leadership that no handover explains is reported, one after close is not.
func TestUnaccounted(t *testing.T) {
	rs := func(pids ...int) []resolved {
		var out []resolved
		for i, p := range pids {
			out = append(out, resolved{interval: interval{pid: p, start: int64(10 * (i + 1))}})
		}
		return out
	}
	hs := []handover{{succ: 2}, {succ: 3}}
	cases := []struct {
		name    string
		rs      []resolved
		closing int64
		bad     bool
	}{
		{"in order", rs(1, 2, 3), 100, false},
		{"after close", rs(1, 2, 3, 4), 35, false},
		{"won again out of turn", rs(1, 2, 2, 3), 100, true},
		{"one missing", rs(1, 2), 100, true},
	}
	hs2 := []handover{{succ: 2, extra: 3}, {succ: 4}}
	if got := unaccounted(rs(1, 2, 3, 4), hs2, 100); len(got) > 0 {
		t.Errorf("a handover's extra term: %q", got)
	}
	if got := unaccounted(rs(1, 2, 4), hs2, 100); len(got) == 0 {
		t.Errorf("a missing extra term passed")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := unaccounted(tc.rs, hs, tc.closing); (len(got) > 0) != tc.bad {
				t.Errorf("unaccounted = %q, want problems: %v", got, tc.bad)
			}
		})
	}
}
