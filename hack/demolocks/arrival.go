package main

import "sort"

// arrivalOrder compares the grant order (fences) of one server's requests,
// or all of them, with the order of their arrival in Redis.
type arrivalOrder struct {
	server     string
	granted    int
	unseen     int // granted tokens that never appeared in MONITOR
	pairs      int
	violations int // pairs granted against their arrival order
}

// compareArrival counts, over o's granted requests, the pairs that arrived
// in one order and were granted in the other. first is each token's
// arrival index.
func compareArrival(server string, o order, first map[string]int) arrivalOrder {
	a := arrivalOrder{server: server}
	type grant struct {
		at    int
		fence uint64
	}
	var gs []grant
	for _, t := range o.Tickets {
		if t.Fence == 0 {
			continue
		}
		a.granted++
		at, ok := first[t.Token]
		if !ok {
			a.unseen++
			continue
		}
		gs = append(gs, grant{at, t.Fence})
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].at < gs[j].at })
	for i := range gs {
		for j := i + 1; j < len(gs); j++ {
			a.pairs++
			if gs[j].fence < gs[i].fence {
				a.violations++
			}
		}
	}
	return a
}

// allOrders merges the servers' tickets into one order report.
func allOrders(os []order) order {
	var all order
	for _, o := range os {
		all.Tickets = append(all.Tickets, o.Tickets...)
	}
	return all
}
