package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Report is what Check found in a history.
type Report struct {
	// Transitions is the number of terms.
	Transitions int
	// Overlaps are pairs of terms of different instances that overlap.
	Overlaps []string
	// FenceErrors are terms whose fence is not above the previous term's.
	FenceErrors []string
	// LateRecoveries are heals after which no leader came within the bound.
	LateRecoveries []string
	// RecordErrors are inconsistencies in the log (a term started twice).
	RecordErrors []string
	// Stuck are replicas that did not exit within their bound after
	// SIGTERM (filled in by the harness, not by Check).
	Stuck []string
	// MaxGap is the largest time without a leader between two terms.
	MaxGap time.Duration
	// MinMargin is the smallest next.Start - prev.End (negative on
	// overlap).
	MinMargin time.Duration
	// MaxRecovery is the longest time from a heal to a leader.
	MaxRecovery time.Duration
	// Faults counts the faults injected, by kind.
	Faults map[string]int

	// overlapAt is, for each overlap, when the later term started.
	overlapAt []int64
}

// OK reports whether the history is safe and live.
func (r *Report) OK() bool {
	return len(r.Overlaps) == 0 && len(r.FenceErrors) == 0 && len(r.LateRecoveries) == 0 &&
		len(r.RecordErrors) == 0 && len(r.Stuck) == 0
}

// Problems lists every violation, one per line.
func (r *Report) Problems() string {
	var all []string
	for _, group := range [][]string{r.RecordErrors, r.Overlaps, r.FenceErrors, r.LateRecoveries, r.Stuck} {
		all = append(all, group...)
	}
	return strings.Join(all, "\n")
}

// Check proves mutual exclusion, fence order and recovery from terms (sorted
// by start) and heals.
func Check(terms []Term, heals []Heal) *Report {
	r := &Report{Transitions: len(terms), MinMargin: time.Duration(1<<63 - 1)}
	sort.SliceStable(terms, func(i, j int) bool { return terms[i].Start < terms[j].Start })
	var (
		maxEnd    int64
		maxEndIdx = -1
	)
	for i, t := range terms {
		if t.End < t.Start {
			r.RecordErrors = append(r.RecordErrors, fmt.Sprintf("term %s/%d ends %v before it starts", t.Instance, t.Fence, time.Duration(t.Start-t.End)))
		}
		if maxEndIdx >= 0 {
			prev := terms[maxEndIdx]
			margin := time.Duration(t.Start - maxEnd)
			r.MinMargin = min(r.MinMargin, margin)
			r.MaxGap = max(r.MaxGap, margin)
			if margin < 0 {
				r.Overlaps = append(r.Overlaps, fmt.Sprintf("overlap %v: %s fence %d [%d, %d] and %s fence %d [%d, %d]",
					-margin, prev.Instance, prev.Fence, prev.Start, prev.End, t.Instance, t.Fence, t.Start, t.End))
				r.overlapAt = append(r.overlapAt, t.Start)
			}
		}
		if i > 0 && t.Fence <= terms[i-1].Fence {
			r.FenceErrors = append(r.FenceErrors, fmt.Sprintf("fence went from %d (%s) to %d (%s)",
				terms[i-1].Fence, terms[i-1].Instance, t.Fence, t.Instance))
		}
		if maxEndIdx < 0 || t.End > maxEnd {
			maxEnd, maxEndIdx = t.End, i
		}
	}
	if len(terms) < 2 {
		r.MinMargin = 0
	}
	for _, h := range heals {
		rec, ok := recovery(terms, h.At)
		if !ok {
			r.LateRecoveries = append(r.LateRecoveries, fmt.Sprintf("no leader after %s healed", h.Kind))
			continue
		}
		r.MaxRecovery = max(r.MaxRecovery, rec)
		if rec > h.Bound {
			r.LateRecoveries = append(r.LateRecoveries, fmt.Sprintf("leader %v after %s healed, bound %v", rec, h.Kind, h.Bound))
		}
	}
	return r
}

// recovery is the time from at to the first moment a term covers.
func recovery(terms []Term, at int64) (time.Duration, bool) {
	best, ok := int64(0), false
	for _, t := range terms {
		if t.End <= at {
			continue
		}
		start := max(t.Start, at)
		if !ok || start < best {
			best, ok = start, true
		}
	}
	return time.Duration(best - at), ok
}

// Table renders the report as a summary table.
func (r *Report) Table() string {
	var b strings.Builder
	width := len("longest recovery after heal")
	for k := range r.Faults {
		width = max(width, len(k)+2)
	}
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-*s %v\n", width, k, v) }
	b.WriteString("chaos summary\n")
	row("transitions (terms)", r.Transitions)
	kinds := make([]string, 0, len(r.Faults))
	total := 0
	for k, n := range r.Faults {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	row("faults", total)
	for _, k := range kinds {
		row("  "+k, r.Faults[k])
	}
	row("overlaps", len(r.Overlaps))
	row("fence errors", len(r.FenceErrors))
	row("late recoveries", len(r.LateRecoveries))
	row("stuck replicas", len(r.Stuck))
	row("largest failover gap", r.MaxGap.Round(time.Microsecond))
	row("smallest safety margin", r.MinMargin.Round(time.Microsecond))
	row("longest recovery after heal", r.MaxRecovery.Round(time.Microsecond))
	return b.String()
}

// Overlap is the total time during which two or more terms are open at
// once: the double-leader window of a history.
func Overlap(terms []Term) time.Duration {
	type edge struct {
		at   int64
		open int
	}
	edges := make([]edge, 0, 2*len(terms))
	for _, t := range terms {
		if t.End > t.Start {
			edges = append(edges, edge{t.Start, 1}, edge{t.End, -1})
		}
	}
	// At equal instants, ends go first: a term that starts as another ends
	// does not overlap it.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].open < edges[j].open
	})
	var (
		total int64
		open  int
		since int64
	)
	for _, e := range edges {
		if open >= 2 {
			total += e.at - since
		}
		open += e.open
		since = e.at
	}
	return time.Duration(total)
}
