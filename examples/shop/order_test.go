package main

import (
	"testing"
	"time"
)

func TestCountOrder(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int, fence uint64) *ticket {
		return &ticket{queued: t0.Add(time.Duration(ms) * time.Millisecond), fence: fence}
	}
	cases := []struct {
		name string
		ts   []*ticket
		want orderCount
	}{
		{"empty", nil, orderCount{}},
		{"in order", []*ticket{at(0, 1), at(100, 2), at(200, 3)}, orderCount{Pairs: 3}},
		{"one inverted pair", []*ticket{at(0, 2), at(100, 1), at(200, 3)}, orderCount{Pairs: 3, Violations: 1}},
		{"all inverted", []*ticket{at(0, 3), at(100, 2), at(200, 1)}, orderCount{Pairs: 3, Violations: 3}},
		{"close pair inverted: not a violation", []*ticket{at(0, 2), at(10, 1), at(200, 3)}, orderCount{Pairs: 2, Close: 1, CloseInverted: 1}},
		{"exactly the gap apart counts", []*ticket{at(0, 2), at(50, 1)}, orderCount{Pairs: 1, Violations: 1}},
		{"ungranted tickets are left out", []*ticket{at(0, 0), at(100, 1), at(200, 0), at(300, 2)}, orderCount{Pairs: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.Gap = "50ms"
			if got := countOrder(tc.ts, 50*time.Millisecond); got != tc.want {
				t.Errorf("countOrder = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestOrderLog: the log keeps queue order per lock and reports grants.
func TestOrderLog(t *testing.T) {
	o := newOrderLog()
	a := o.queue("stock-a")
	b := o.queue("stock-a")
	other := o.queue("stock-b")
	o.grant(b, 7, "tb")
	o.grant(a, 8, "ta") // granted after b although queued first
	o.grant(other, 1, "to")
	r := o.report("stock-a", 0, true)
	if r.Lock != "stock-a" || r.Queued != 2 || r.Granted != 2 || r.Pairs != 1 || r.Violations != 1 {
		t.Fatalf("report %+v; want 2 queued, 2 granted, 1 pair, 1 violation", r)
	}
	if len(r.Tickets) != 2 || r.Tickets[0].QueuedMS != 0 || r.Tickets[0].Fence != 8 || r.Tickets[1].Fence != 7 || r.Tickets[0].Token != "ta" {
		t.Fatalf("detail %+v; want both tickets in queue order", r.Tickets)
	}
	if r := o.report("stock-c", 0, false); r.Queued != 0 || r.Pairs != 0 {
		t.Fatalf("report of an unused lock: %+v", r)
	}
}
