//go:build linux

package interop

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/test/interop/internal/stamp"
)

// TestInterop hands Leases back and forth between baton and client-go
// -interop.handovers times in each direction and checks the stamps; the
// package doc says what exactly it checks.
func TestInterop(t *testing.T) {
	apiServer(t)
	if *handovers < 1 || *lanes < 1 {
		t.Fatalf("-interop.handovers and -interop.lanes must be positive")
	}
	perLane := (2**handovers + *lanes - 1) / *lanes
	perLane += perLane % 2 // whole pairs: as many in each direction
	begun := time.Now()
	ls := make([]*lane, *lanes)
	errs := make([]error, *lanes)
	var wg sync.WaitGroup
	for i := range ls {
		ls[i] = newLane(i, t.TempDir())
		wg.Go(func() {
			defer ls[i].close()
			errs[i] = ls[i].run(t.Context(), perLane)
		})
	}
	wg.Wait()
	var all []handover
	var overlapsFound, problems []string
	var stale []time.Duration
	stops := 0
	for i, l := range ls {
		if errs[i] != nil {
			t.Errorf("%v\n%s", errs[i], l.logs())
		}
		ivs, deaths, logErrs := l.log.snapshot()
		rs, ps := resolve(ivs, deaths, l.stops)
		ps = append(ps, unaccounted(rs, l.handovers, l.closing)...)
		for _, e := range append(logErrs, ps...) {
			problems = append(problems, fmt.Sprintf("lane %d: %s", i, e))
		}
		for _, o := range overlaps(rs) {
			overlapsFound = append(overlapsFound, fmt.Sprintf("lane %d: %s", i, o))
		}
		for _, r := range rs {
			if r.how == byClip {
				stops++
				if len(r.stale) > 0 {
					stale = append(stale, nsDuration(r.stale[len(r.stale)-1]-r.resumed))
				}
			}
		}
		all = append(all, withGaps(l.handovers, rs)...)
		for _, n := range l.notes {
			problems = append(problems, fmt.Sprintf("lane %d: %s", i, n))
		}
		if t.Failed() || len(ps) > 0 {
			t.Logf("lane %d stamps: %s", i, filepath.Join(l.dir, "stamps"))
		}
	}
	clobbered := 0
	for _, h := range all {
		if h.clobbered {
			clobbered++
		}
	}
	t.Logf("%d handovers on %d Leases in %v\n%s"+
		"client-go releases of baton's Lease after SIGCONT (a term lost and won again, checked like any): %d\n",
		len(all), len(ls), time.Since(begun).Round(time.Second), table(all, len(overlapsFound), stops, stale), clobbered)
	for _, o := range overlapsFound {
		t.Errorf("overlap: %s", o)
	}
	for _, p := range problems {
		t.Errorf("%s", p)
	}
	for _, dir := range [][2]string{{stamp.Baton, stamp.ClientGo}, {stamp.ClientGo, stamp.Baton}} {
		n := 0
		for _, h := range all {
			if h.from == dir[0] {
				n++
			}
		}
		if n < *handovers {
			t.Errorf("%d handovers %s -> %s, want at least %d", n, dir[0], dir[1], *handovers)
		}
	}
}

// withGaps sets each handover's gap: from the end of the one leadership, as
// resolved, to the start of the next.
func withGaps(hs []handover, rs []resolved) []handover {
	ends := map[[2]int64]int64{}
	for _, r := range rs {
		ends[[2]int64{int64(r.pid), r.start}] = r.end
	}
	for i := range hs {
		hs[i].gap = nsDuration(hs[i].succStart - ends[[2]int64{int64(hs[i].pred), hs[i].predStart}])
	}
	return hs
}

func nsDuration(ns int64) time.Duration { return time.Duration(ns) }

// table is the summary: handovers by direction and fault, with the gaps.
func table(hs []handover, overlaps, stops int, stale []time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %-8s %9s %6s %9s %9s %9s\n", "direction", "fault", "handovers", "named", "gap min", "gap p50", "gap max")
	for _, dir := range [][2]string{{stamp.Baton, stamp.ClientGo}, {stamp.ClientGo, stamp.Baton}} {
		for _, f := range faults {
			var gaps []time.Duration
			named := 0
			for _, h := range hs {
				if h.from == dir[0] && h.fault == f {
					gaps = append(gaps, h.gap)
					if h.named {
						named++
					}
				}
			}
			if len(gaps) == 0 {
				continue
			}
			sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
			fmt.Fprintf(&b, "%-22s %-8s %9d %6d %9v %9v %9v\n", dir[0]+" -> "+dir[1], f, len(gaps), named,
				gaps[0].Round(time.Millisecond), gaps[len(gaps)/2].Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond))
		}
	}
	fmt.Fprintf(&b, "overlaps: %d\n", overlaps)
	var maxStale time.Duration
	for _, s := range stale {
		maxStale = max(maxStale, s)
	}
	fmt.Fprintf(&b, "client-go work after SIGCONT (not checked, client-go has no guard): in %d of %d stops, the last up to %v after SIGCONT\n",
		len(stale), stops, maxStale.Round(time.Millisecond))
	return b.String()
}
