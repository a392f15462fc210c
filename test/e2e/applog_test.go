//go:build linux

package e2e

import (
	"regexp"
	"strconv"
	"time"

	"github.com/baton-dev/baton/test/e2e/harness"
)

var (
	unitRe  = regexp.MustCompile(`^unit \d+ under fence (\d+)$`)
	startRe = regexp.MustCompile(`^leading with fence (\d+): starting work$`)
)

// appTerms are the intervals in which each pod's batchjob did units of
// work under a fence, from the app's own log lines.
func appTerms(lines []harness.LogLine) map[termKey]*interval {
	terms := map[termKey]*interval{}
	for _, l := range lines {
		m := unitRe.FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		f, _ := strconv.ParseUint(m[1], 10, 64)
		k := termKey{l.Pod, f}
		if iv := terms[k]; iv != nil {
			iv.To = l.Time
		} else {
			terms[k] = &interval{From: l.Time, To: l.Time}
		}
	}
	return terms
}

// firstWorkAfter is the first "starting work" line after t, by a pod other
// than exclude.
func firstWorkAfter(lines []harness.LogLine, t time.Time, exclude string) (harness.LogLine, bool) {
	for _, l := range lines {
		if l.Time.After(t) && l.Pod != exclude && startRe.MatchString(l.Text) {
			return l, true
		}
	}
	return harness.LogLine{}, false
}

// fencesIncrease reports whether no new term's fence is below the
// previous one, in the order the terms started.
func fencesIncrease(lines []harness.LogLine) bool {
	var last uint64
	for _, l := range lines {
		if m := startRe.FindStringSubmatch(l.Text); m != nil {
			f, _ := strconv.ParseUint(m[1], 10, 64)
			if f < last {
				return false
			}
			last = f
		}
	}
	return true
}
