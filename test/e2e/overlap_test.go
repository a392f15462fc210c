//go:build linux

package e2e

import (
	"testing"
	"time"
)

func TestOverlappingTerms(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, tc := range []struct {
		name  string
		terms map[termKey]*interval
		want  int
	}{
		{"hand-over with a gap", map[termKey]*interval{{"a", 1}: {at(0), at(100)}, {"b", 2}: {at(101), at(200)}}, 0},
		{"two at once", map[termKey]*interval{{"a", 1}: {at(0), at(100)}, {"b", 2}: {at(90), at(200)}}, 1},
		{"same pod, two terms", map[termKey]*interval{{"a", 1}: {at(0), at(100)}, {"a", 2}: {at(90), at(200)}}, 0},
		{"one sample proves nothing", map[termKey]*interval{{"a", 1}: {at(0), at(100)}, {"b", 2}: {at(60), at(50)}}, 0},
		{"three pods", map[termKey]*interval{{"a", 1}: {at(0), at(100)}, {"b", 2}: {at(50), at(150)}, {"c", 3}: {at(60), at(70)}}, 3},
	} {
		if got := overlappingTerms(tc.terms); len(got) != tc.want {
			t.Errorf("%s: %d overlaps %q, want %d", tc.name, len(got), got, tc.want)
		}
	}
}
