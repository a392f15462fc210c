// Package stats summarises latency samples and compares two tools by
// ratios, for baton's side-by-side benchmark.
package stats

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of duration samples.
type Summary struct {
	N    int           `json:"n"`
	Min  time.Duration `json:"min_ns"`
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
}

// Summarize returns the summary of samples; it does not modify samples.
// An empty input gives the zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum float64
	for _, d := range s {
		sum += float64(d)
	}
	return Summary{
		N:    len(s),
		Min:  s[0],
		Mean: time.Duration(sum / float64(len(s))),
		P50:  PercentileSorted(s, 50),
		P90:  PercentileSorted(s, 90),
		P99:  PercentileSorted(s, 99),
		Max:  s[len(s)-1],
	}
}

// PercentileSorted returns the p-th percentile (0 ≤ p ≤ 100) of sorted by
// the nearest-rank method: the smallest sample such that at least p% of
// the samples are at or below it. It never interpolates, so the result is
// always an observed sample; p99 of fewer than 100 samples is the maximum.
// An empty input gives 0.
func PercentileSorted(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	switch {
	case p <= 0:
		return sorted[0]
	case p >= 100:
		return sorted[n-1]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[max(rank, 1)-1]
}

// Percentile is PercentileSorted on a sorted copy of samples.
func Percentile(samples []time.Duration, p float64) time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	return PercentileSorted(s, p)
}

// Ratio is a/b. It reports ok=false when b is zero or either value is
// negative, NaN or infinite, so a missing measurement never shows as a
// ratio of 0 or +Inf.
func Ratio(a, b float64) (r float64, ok bool) {
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) || x < 0 }
	if bad(a) || bad(b) || b == 0 {
		return 0, false
	}
	return a / b, true
}

// Comparison is baton against one peer on one figure, from the same run.
type Comparison struct {
	Peer string `json:"peer"`
	// BatonOverPeer is baton's value divided by the peer's (below 1: baton
	// is lower, i.e. faster or cheaper).
	BatonOverPeer float64 `json:"baton_over_peer"`
	// PeerOverBaton is the inverse: how many times faster or cheaper baton
	// is.
	PeerOverBaton float64 `json:"peer_over_baton"`
	// OK is false when either value was missing or zero.
	OK bool `json:"ok"`
}

// Compare builds the comparison of baton's value with a peer's.
func Compare(peer string, baton, peerValue float64) Comparison {
	c := Comparison{Peer: peer}
	r, ok1 := Ratio(baton, peerValue)
	inv, ok2 := Ratio(peerValue, baton)
	if ok1 && ok2 {
		c.BatonOverPeer, c.PeerOverBaton, c.OK = r, inv, true
	}
	return c
}

// PerSecond is count events over d, per second; 0 when d is not positive.
func PerSecond(count float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return count / d.Seconds()
}

// PairedRatios divides a[i] by b[i] for each round i in which both were
// measured, skipping pairs that Ratio rejects. a and b are the same figure
// for two tools, measured in interleaved rounds of one run, so each ratio
// compares measurements taken under the same machine load.
func PairedRatios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if r, ok := Ratio(a[i], b[i]); ok {
			out = append(out, r)
		}
	}
	return out
}

// Median is the median of xs (the mean of the two middle values for an even
// count); ok is false for an empty input.
func Median(xs []float64) (m float64, ok bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}
