package stats

import (
	"math"
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // unsorted on purpose
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p0", ms(7), 0, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"odd median", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"even median is lower middle", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p100 is max", ms(4, 1, 3, 2), 100, 4 * time.Millisecond},
		{"p0 is min", ms(4, 1, 3, 2), 0, 1 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p90 of 100", hundred, 90, 90 * time.Millisecond},
		{"p1 of 100", hundred, 1, 1 * time.Millisecond},
		{"p99 of 10 is max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p above 100 clamps", ms(1, 2), 150, 2 * time.Millisecond},
		{"negative p clamps", ms(1, 2), -5, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.samples, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		want    Summary
	}{
		{"empty", nil, Summary{}},
		{"one", ms(5), Summary{N: 1, Min: 5e6, Mean: 5e6, P50: 5e6, P90: 5e6, P99: 5e6, Max: 5e6}},
		{"four", ms(40, 10, 30, 20), Summary{N: 4, Min: 10e6, Mean: 25e6, P50: 20e6, P90: 40e6, P99: 40e6, Max: 40e6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.samples...)
			if got := Summarize(in); got != tt.want {
				t.Errorf("Summarize = %+v, want %+v", got, tt.want)
			}
			for i := range in {
				if in[i] != tt.samples[i] {
					t.Fatalf("Summarize modified its input")
				}
			}
		})
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		name   string
		a, b   float64
		want   float64
		wantOK bool
	}{
		{"plain", 1, 4, 0.25, true},
		{"equal", 3, 3, 1, true},
		{"zero numerator", 0, 5, 0, true},
		{"zero denominator", 1, 0, 0, false},
		{"negative", -1, 2, 0, false},
		{"NaN", math.NaN(), 2, 0, false},
		{"Inf", 1, math.Inf(1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Ratio(tt.a, tt.b)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Ratio(%v, %v) = %v, %v; want %v, %v", tt.a, tt.b, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name          string
		baton, peer   float64
		wantBatonOver float64
		wantPeerOver  float64
		wantOK        bool
	}{
		{"baton 50x faster", 2, 100, 0.02, 50, true},
		{"baton slower", 10, 5, 2, 0.5, true},
		{"peer missing", 2, 0, 0, 0, false},
		{"baton zero", 0, 5, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare("peer", tt.baton, tt.peer)
			if c.OK != tt.wantOK || math.Abs(c.BatonOverPeer-tt.wantBatonOver) > 1e-12 || math.Abs(c.PeerOverBaton-tt.wantPeerOver) > 1e-12 {
				t.Errorf("Compare(%v, %v) = %+v", tt.baton, tt.peer, c)
			}
		})
	}
}

func TestPairedRatiosAndMedian(t *testing.T) {
	tests := []struct {
		name       string
		a, b       []float64
		wantRatios []float64
		wantMedian float64
		wantOK     bool
	}{
		{"empty", nil, nil, nil, 0, false},
		{"pairs", []float64{1, 2, 3}, []float64{2, 2, 2}, []float64{0.5, 1, 1.5}, 1, true},
		{"skips zero denominators and extra rounds", []float64{1, 2, 3, 9}, []float64{4, 0, 1}, []float64{0.25, 3}, 1.625, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PairedRatios(tt.a, tt.b)
			if len(got) != len(tt.wantRatios) {
				t.Fatalf("PairedRatios = %v, want %v", got, tt.wantRatios)
			}
			for i := range got {
				if got[i] != tt.wantRatios[i] {
					t.Fatalf("PairedRatios = %v, want %v", got, tt.wantRatios)
				}
			}
			m, ok := Median(got)
			if ok != tt.wantOK || m != tt.wantMedian {
				t.Errorf("Median(%v) = %v, %v; want %v, %v", got, m, ok, tt.wantMedian, tt.wantOK)
			}
		})
	}
}

func TestPerSecond(t *testing.T) {
	tests := []struct {
		count float64
		d     time.Duration
		want  float64
	}{
		{10, 2 * time.Second, 5},
		{10, 0, 0},
		{0, time.Second, 0},
	}
	for _, tt := range tests {
		if got := PerSecond(tt.count, tt.d); got != tt.want {
			t.Errorf("PerSecond(%v, %v) = %v, want %v", tt.count, tt.d, got, tt.want)
		}
	}
}
