package main

import (
	"sync"
	"time"
)

// orderLog records, per lock, the order in which one web server's requests
// queued for the lock and the order in which they were granted it. Grant
// order is fence order: the sidecar hands out a larger fence to every new
// holder of a name. Its methods are safe for concurrent use.
type orderLog struct {
	mu     sync.Mutex
	byLock map[string][]*ticket
}

// ticket is one request's place in the log.
type ticket struct {
	// queued is when the acquire call left for the sidecar.
	queued time.Time
	// fence is the fence granted, 0 while (or if never) granted.
	fence uint64
	// granted is when the grant came back.
	granted time.Time
	// token is the lock's owner token, by which the request's entry can be
	// found in Redis (hack/demolocks reads its enqueue order there).
	token string
}

func newOrderLog() *orderLog { return &orderLog{byLock: map[string][]*ticket{}} }

// queue records a request about to ask for lock. The log's order is the
// order of queue calls, and their times grow with it (monotonic clock).
func (o *orderLog) queue(lock string) *ticket {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := &ticket{queued: time.Now()}
	o.byLock[lock] = append(o.byLock[lock], t)
	return t
}

// grant records that t got the lock with fence and token.
func (o *orderLog) grant(t *ticket, fence uint64, token string) {
	o.mu.Lock()
	t.fence, t.granted, t.token = fence, time.Now(), token
	o.mu.Unlock()
}

// orderReport is the answer to GET /order.
type orderReport struct {
	Lock    string `json:"lock"`
	Server  string `json:"server"`
	Queued  int    `json:"queued"`
	Granted int    `json:"granted"`
	orderCount
	// Tickets, with ?detail=true, lists every request in queue order.
	Tickets []ticketBody `json:"tickets,omitempty"`
}

// ticketBody is one request of GET /order?detail=true: when it queued and
// was granted, in ms since the first request queued, its fence and token.
type ticketBody struct {
	QueuedMS  float64 `json:"queued_ms"`
	GrantedMS float64 `json:"granted_ms,omitempty"`
	Fence     uint64  `json:"fence,omitempty"`
	Token     string  `json:"token,omitempty"`
}

// orderCount compares queue order with grant order over pairs of granted
// requests.
type orderCount struct {
	// Gap is the least time between two requests' queue calls for the
	// pair to count as ordered. Requests that leave for the sidecar within
	// Gap of each other may reach Redis's queue in either order: two
	// goroutines, two connections, two sidecar goroutines; no lock can
	// order them, so they are counted apart, as Close.
	Gap string `json:"gap"`
	// Pairs is the number of ordered pairs; Violations those granted
	// against their queue order.
	Pairs      int `json:"pairs"`
	Violations int `json:"violations"`
	// Close pairs are those queued within Gap of each other; CloseInverted
	// were granted in the other order (informational).
	Close         int `json:"close"`
	CloseInverted int `json:"close_inverted"`
}

// report compares the orders of lock's requests; detail adds each one.
func (o *orderLog) report(lock string, gap time.Duration, detail bool) orderReport {
	o.mu.Lock()
	defer o.mu.Unlock()
	ts := o.byLock[lock]
	r := orderReport{Lock: lock, Queued: len(ts), orderCount: countOrder(ts, gap)}
	for _, t := range ts {
		if t.fence > 0 {
			r.Granted++
		}
		if detail {
			ms := func(at time.Time) float64 { return float64(at.Sub(ts[0].queued).Microseconds()) / 1000 }
			b := ticketBody{QueuedMS: ms(t.queued), Fence: t.fence, Token: t.token}
			if t.fence > 0 {
				b.GrantedMS = ms(t.granted)
			}
			r.Tickets = append(r.Tickets, b)
		}
	}
	return r
}

// countOrder counts, over the granted tickets in ts (in queue order), the
// pairs queued at least gap apart and those among them granted out of
// order, and the close pairs. n is at most the requests of one run, so the
// quadratic pass is fine.
func countOrder(ts []*ticket, gap time.Duration) orderCount {
	c := orderCount{Gap: gap.String()}
	for i, a := range ts {
		if a.fence == 0 {
			continue
		}
		for _, b := range ts[i+1:] {
			if b.fence == 0 {
				continue
			}
			inverted := b.fence < a.fence
			if b.queued.Sub(a.queued) >= gap {
				c.Pairs++
				if inverted {
					c.Violations++
				}
				continue
			}
			c.Close++
			if inverted {
				c.CloseInverted++
			}
		}
	}
	return c
}
