//go:build linux

package interop

import (
	"fmt"
	"math"
	"sort"

	"github.com/baton-dev/baton/test/interop/internal/stamp"
)

// sigstop is one SIGSTOP of a process: when all its threads were seen
// stopped, and when SIGCONT was sent.
type sigstop struct {
	pid              int
	stopped, resumed int64
}

// resolved is an interval with its end settled.
type resolved struct {
	interval
	end int64
	how string
	// stale are a client-go elector's stamps after its SIGCONT, before it
	// noticed that its leadership had ended.
	stale   []int64
	resumed int64 // when clipped: the SIGCONT
}

// Ways an interval ends.
const (
	byEndStamp = "end stamp"
	byDeath    = "death"
	byClip     = "clipped at SIGSTOP"
)

// resolve settles where each interval ends, with no slack: at its end
// stamp; without one, at its process's death (an upper bound). A client-go
// interval during which its process was stopped ends where it was seen
// stopped, and its stamps after SIGCONT are returned as stale. A baton
// SIGSTOP stops baton, not its job, whose interval is never cut. A stamp
// while stopped, or an interval without an end, is a problem of the
// measurement.
func resolve(ivs []interval, deaths map[int]int64, stops []sigstop) ([]resolved, []string) {
	var out []resolved
	var problems []string
	for _, iv := range ivs {
		r := resolved{interval: iv, end: iv.endStamp, how: byEndStamp}
		if r.end == 0 {
			d, ok := deaths[iv.pid]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s %s pid %d: an interval without an end", iv.side, iv.identity, iv.pid))
				d = math.MaxInt64
			}
			r.end, r.how = d, byDeath
		}
		for _, s := range stops {
			if s.pid != iv.pid || s.stopped < iv.start || s.stopped > r.end {
				continue
			}
			for _, ns := range iv.stamps {
				if ns > s.stopped && ns < s.resumed {
					problems = append(problems, fmt.Sprintf("%s pid %d stamped at %d while stopped (%d to %d)", iv.side, iv.pid, ns, s.stopped, s.resumed))
				}
			}
			if iv.side != stamp.ClientGo {
				continue
			}
			for _, ns := range iv.stamps {
				if ns >= s.resumed {
					r.stale = append(r.stale, ns)
				}
			}
			r.end, r.how, r.resumed = s.stopped, byClip, s.resumed
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out, problems
}

// overlap is two intervals that share a moment.
type overlap struct{ a, b resolved }

func (o overlap) String() string {
	return fmt.Sprintf("%s %s pid %d [%d, %d] (%s) and %s %s pid %d [%d, %d] (%s) share %v",
		o.a.side, o.a.identity, o.a.pid, o.a.start, o.a.end, o.a.how,
		o.b.side, o.b.identity, o.b.pid, o.b.start, o.b.end, o.b.how, nsDuration(min(o.a.end, o.b.end)-max(o.a.start, o.b.start)))
}

// overlaps returns every pair of intervals (sorted by start) of which one
// begins before the other ends: no slack.
func overlaps(rs []resolved) []overlap {
	var out []overlap
	for i := range rs {
		for j := i + 1; j < len(rs) && rs[j].start < rs[i].end; j++ {
			out = append(out, overlap{rs[i], rs[j]})
		}
	}
	return out
}

// unaccounted checks that the leaderships begun before the lane closed are
// exactly the first one and each handover's successor (and extra), in
// order: a
// leadership lost and won again out of turn (such as a stale write of a
// resumed elector taking the Lease from its holder) shows here even when
// it overlaps nothing.
func unaccounted(rs []resolved, hs []handover, closing int64) []string {
	var got []int
	for _, r := range rs {
		if r.start < closing {
			got = append(got, r.pid)
		}
	}
	want := make([]int, 0, len(hs)+1)
	if len(got) > 0 {
		want = append(want, got[0])
	}
	for _, h := range hs {
		want = append(want, h.succ)
		if h.extra != 0 {
			want = append(want, h.extra)
		}
	}
	var out []string
	for i := range max(len(got), len(want)) {
		g, w := -1, -1
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			out = append(out, fmt.Sprintf("leadership %d is pid %d, want pid %d (the handovers' successors in order)", i, g, w))
			break
		}
	}
	return out
}
