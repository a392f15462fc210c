package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Concurrency is what CheckConcurrency found in the terms of a counting
// lock (a semaphore): how many were open at once, and when more than its
// limit were.
type Concurrency struct {
	// Max is the largest number of terms open at one instant.
	Max int
	// Over are the moments at which more than the limit were open, each
	// with the open terms.
	Over []string
	// DuplicateFences are fences that two terms share.
	DuplicateFences []string
	// RecordErrors are terms that end before they start.
	RecordErrors []string
}

// OK reports whether the terms respect the limit.
func (c *Concurrency) OK() bool {
	return len(c.Over) == 0 && len(c.DuplicateFences) == 0 && len(c.RecordErrors) == 0
}

// Problems lists every violation, one per line.
func (c *Concurrency) Problems() string {
	var all []string
	for _, group := range [][]string{c.RecordErrors, c.Over, c.DuplicateFences} {
		all = append(all, group...)
	}
	return strings.Join(all, "\n")
}

// CheckConcurrency proves that at most limit terms are open at once: the
// semaphore's counterpart of Check, on the same terms. As in Overlap, a
// term that starts at the instant another ends does not overlap it. Fences
// must be unique; their order is not checked, since terms that overlap
// legitimately may see their replies in another order than Redis ran them.
func CheckConcurrency(terms []Term, limit int) *Concurrency {
	c := &Concurrency{}
	type edge struct {
		at   int64
		open bool
		i    int
	}
	edges := make([]edge, 0, 2*len(terms))
	fences := make(map[uint64]int, len(terms))
	for i, t := range terms {
		if t.End < t.Start {
			c.RecordErrors = append(c.RecordErrors, fmt.Sprintf("term %s/%d ends %v before it starts", t.Instance, t.Fence, time.Duration(t.Start-t.End)))
			continue
		}
		if j, dup := fences[t.Fence]; dup {
			c.DuplicateFences = append(c.DuplicateFences, fmt.Sprintf("fence %d held by %s and by %s", t.Fence, terms[j].Instance, t.Instance))
		}
		fences[t.Fence] = i
		if t.End > t.Start {
			edges = append(edges, edge{t.Start, true, i}, edge{t.End, false, i})
		}
	}
	sort.Slice(edges, func(a, b int) bool {
		if edges[a].at != edges[b].at {
			return edges[a].at < edges[b].at
		}
		return !edges[a].open && edges[b].open // ends first
	})
	open := map[int]bool{}
	for _, e := range edges {
		if !e.open {
			delete(open, e.i)
			continue
		}
		open[e.i] = true
		c.Max = max(c.Max, len(open))
		if len(open) > limit {
			held := make([]string, 0, len(open))
			for i := range open {
				t := terms[i]
				held = append(held, fmt.Sprintf("%s fence %d [%d, %d]", t.Instance, t.Fence, t.Start, t.End))
			}
			sort.Strings(held)
			c.Over = append(c.Over, fmt.Sprintf("%d open at %d, limit %d: %s", len(open), e.at, limit, strings.Join(held, "; ")))
		}
	}
	return c
}
