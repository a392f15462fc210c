//go:build linux

package chaos

import (
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	ms := int64(time.Millisecond)
	tests := []struct {
		name    string
		terms   []Term
		heals   []Heal
		want    string // substring of Problems, "" when OK
		gap     time.Duration
		margin  time.Duration
		recover time.Duration
	}{
		{
			name:  "disjoint and ordered",
			terms: []Term{{"a", 1, 0, 10 * ms, false, ""}, {"b", 2, 12 * ms, 20 * ms, false, ""}, {"a", 3, 25 * ms, 30 * ms, false, ""}},
			heals: []Heal{{"kill", 11 * ms, 5 * time.Millisecond}},
			gap:   5 * time.Millisecond, margin: 2 * time.Millisecond, recover: time.Millisecond,
		},
		{
			name:  "overlap with an earlier, longer term",
			terms: []Term{{"a", 1, 0, 50 * ms, false, ""}, {"b", 2, 10 * ms, 20 * ms, false, ""}, {"c", 3, 30 * ms, 40 * ms, false, ""}},
			want:  "overlap 40ms",
		},
		{
			name:  "fence not growing",
			terms: []Term{{"a", 5, 0, 10 * ms, false, ""}, {"b", 5, 11 * ms, 20 * ms, false, ""}},
			want:  "fence went from 5",
		},
		{
			name:  "late recovery",
			terms: []Term{{"a", 1, 0, 10 * ms, false, ""}, {"b", 2, 100 * ms, 120 * ms, false, ""}},
			heals: []Heal{{"flushall", 10 * ms, 50 * time.Millisecond}},
			want:  "leader 90ms after flushall healed",
		},
		{
			name:  "no leader at all after a heal",
			terms: []Term{{"a", 1, 0, 10 * ms, false, ""}},
			heals: []Heal{{"kill", 20 * ms, time.Second}},
			want:  "no leader after kill healed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.terms, tc.heals)
			got := r.Problems()
			if tc.want == "" {
				if !r.OK() {
					t.Fatalf("problems: %s", got)
				}
				if r.MaxGap != tc.gap || r.MinMargin != tc.margin || r.MaxRecovery != tc.recover {
					t.Fatalf("gap %v margin %v recovery %v, want %v %v %v", r.MaxGap, r.MinMargin, r.MaxRecovery, tc.gap, tc.margin, tc.recover)
				}
				return
			}
			if r.OK() || !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHistoryLine(t *testing.T) {
	h := NewHistory()
	h.Line("a", []byte(`{"msg":"started leading","fence":1700000000000001,"mono_ns":100}`))
	h.Line("a", []byte(`{"msg":"stopped leading","fence":1700000000000001,"mono_ns":900,"valid_until_mono_ns":500,"reason":"deadline"}`))
	h.Line("b", []byte(`{"msg":"started leading","fence":1700000000000002,"mono_ns":600}`))
	h.Killed("b", 700)
	h.Line("c", []byte(`not json`))
	terms, _, _, errs := h.Snapshot()
	if len(errs) != 0 || len(terms) != 2 {
		t.Fatalf("terms %+v errs %v", terms, errs)
	}
	if terms[0].End != 500 || terms[0].Fence != 1700000000000001 || terms[1].End != 700 || terms[1].Reason != "killed" {
		t.Fatalf("terms %+v", terms)
	}
}

func TestOverlap(t *testing.T) {
	tests := []struct {
		name  string
		terms []Term
		want  time.Duration
	}{
		{"none", nil, 0},
		{"disjoint, touching", []Term{{Instance: "a", Start: 0, End: 10}, {Instance: "b", Start: 10, End: 20}}, 0},
		{"nested", []Term{{Instance: "a", Start: 0, End: 100}, {Instance: "b", Start: 10, End: 30}}, 20},
		{"two windows, three terms", []Term{
			{Instance: "a", Start: 0, End: 50}, {Instance: "b", Start: 40, End: 60}, {Instance: "c", Start: 55, End: 70},
		}, 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Overlap(tc.terms); got != tc.want {
				t.Fatalf("Overlap = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReportTable(t *testing.T) {
	r := Check(nil, nil)
	r.Faults = map[string]int{"a fault kind with a long name": 3, "never came up": 0}
	r.Stuck = []string{"s1 took 6s to exit after SIGTERM, bound 5s"}
	table := r.Table()
	for _, want := range []string{"    a fault kind with a long name 3\n", "    never came up                 0\n", "  stuck replicas                  1\n"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if r.OK() || !strings.Contains(r.Problems(), "s1 took 6s") {
		t.Errorf("a stuck replica must fail the report: OK %v, problems %q", r.OK(), r.Problems())
	}
}
