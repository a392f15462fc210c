package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestShare(t *testing.T) {
	tests := []struct {
		n, rounds int
		want      []int
	}{
		{500, 10, []int{50, 50, 50, 50, 50, 50, 50, 50, 50, 50}},
		{7, 3, []int{3, 2, 2}},
		{2, 3, []int{1, 1, 0}},
	}
	for _, tt := range tests {
		total := 0
		for r, want := range tt.want {
			got := share(tt.n, tt.rounds, r)
			if got != want {
				t.Errorf("share(%d, %d, %d) = %d, want %d", tt.n, tt.rounds, r, got, want)
			}
			total += got
		}
		if total != tt.n {
			t.Errorf("shares of %d over %d rounds add up to %d", tt.n, tt.rounds, total)
		}
	}
}

func TestFmtMs(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{250 * time.Microsecond, "0.250 ms"},
		{2500 * time.Microsecond, "2.50 ms"},
		{150 * time.Millisecond, "150 ms"},
		{15500 * time.Millisecond, "15.5 s"},
		{-3 * time.Millisecond, "−3.00 ms"},
	}
	for _, tt := range tests {
		if got := fmtMs(tt.d); got != tt.want {
			t.Errorf("fmtMs(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantOK  bool
		wantErr bool
	}{
		{"leader", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}\n", true, false},
		{"follower", "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\n{}", true, false},
		{"error status", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, false},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := readResponse(bufio.NewReader(strings.NewReader(tt.in)))
			if (err != nil) != tt.wantErr || (err == nil && ok != tt.wantOK) {
				t.Errorf("readResponse = %v, %v; want ok %v, error %v", ok, err, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestRatiosAndTargets(t *testing.T) {
	r := &Results{Meta: Meta{TTL: "1s"}}
	ms := func(v ...float64) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x * float64(time.Millisecond))
		}
		return out
	}
	r.handover(idBaton).add(ms(1, 1, 2))
	r.handover(idBaton).add(ms(1, 1, 2))
	r.handover(idFloor).add(ms(0.5, 0.5, 1))
	r.handover(idFloor).add(ms(0.5, 0.5, 1))
	r.handover(idBsm).add(ms(50, 50, 100))
	r.handover(idBsm).add(ms(100, 100, 100))
	r.finish()
	find := func(fig, peer string) RatioRow {
		for _, q := range r.Ratios {
			if q.Figure == fig && q.Peer == peer {
				return q
			}
		}
		t.Fatalf("no ratio %s / %s", fig, peer)
		return RatioRow{}
	}
	tests := []struct {
		fig, peer  string
		batonOver  float64
		pairedPeer float64
	}{
		{"graceful handover p50", idFloor, 2, 0.5},
		{"graceful handover p99", idFloor, 2, 0},
		{"graceful handover p50", idBsm, 0.01, 75},
		{"graceful handover p99", idBsm, 0.02, 0},
	}
	for _, tt := range tests {
		q := find(tt.fig, tt.peer)
		if !q.OK || q.BatonOverPeer != tt.batonOver || q.PairedMedian != tt.pairedPeer {
			t.Errorf("%s vs %s = %+v, want baton/peer %v, paired %v", tt.fig, tt.peer, q, tt.batonOver, tt.pairedPeer)
		}
	}
	want := map[string]bool{
		"graceful handover p99 (library)":                  true,
		"≥ 50× faster than the fastest polling peer (p99)": true,
		"within 5× of the raw floor (p99)":                 true,
		"idle RSS":                                         false,
	}
	for _, tg := range r.Targets {
		if w, ok := want[tg.Name]; ok && tg.Pass != w {
			t.Errorf("target %q: pass = %v, want %v (%s)", tg.Name, tg.Pass, w, tg.Got)
		}
	}
}
