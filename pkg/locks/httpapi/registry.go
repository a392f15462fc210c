package httpapi

import (
	"container/heap"
	"sync"
	"time"
)

// registry is what one sidecar holds: every lock and permit taken through
// its API, by owner token, and the acquires under way. Together they stay
// within max, so that a flood of callers cannot hold unbounded Redis
// connections, goroutines and keys through one sidecar.
type registry struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	pending int                   // acquires under way (waiting included)
	held    map[string]*heldEntry // by token
	// expiry orders the entries without a watchdog by validUntil, so
	// that those whose lease has run out leave without a timer each.
	expiry expiryHeap
	// ended remembers how recently ended holdings ended, so that a second
	// DELETE gets the same answer as the first: at most max of them.
	ended      map[string]endedEntry
	endedOrder []string // ring of ended's keys, oldest at endedNext
	endedNext  int
	closed     bool
}

// heldEntry is one holding. mu orders the operations on it (renew,
// release, the end of its stream), and done says that one ended it.
type heldEntry struct {
	res    Resource
	h      Holding
	stream bool
	// validUntil is the local time after which the lease has surely run
	// out in Redis, unless renewed: its TTL from the moment the last
	// acquire or renew returned (zero for a stream's, which the watchdog
	// keeps). Redis received the call before, so its expiry comes first.
	validUntil time.Time
	heapIndex  int
	// ended is closed when a DELETE or a shutdown released the holding,
	// which ends its stream.
	ended chan struct{}
	// stop, for a stream's holding, is closed (with stopReason) to end the
	// stream with lost before a DELETE or a shutdown releases the lease:
	// the release may run in Redis, and another client be granted the
	// name, before its reply comes back. told is closed once the stream
	// has ended, lost sent.
	stop       chan struct{}
	stopOnce   sync.Once
	stopReason string
	told       chan struct{}

	mu   sync.Mutex
	done bool
	// reason is why it ended, once done: the stream's lost event says it.
	reason string
}

// endedEntry is what a DELETE of an ended holding answers: released says
// whether this sidecar released it (200) or found it lost (409).
type endedEntry struct {
	res      Resource
	released bool
}

func newRegistry(max int, now func() time.Time) *registry {
	return &registry{
		max: max, now: now,
		held:       map[string]*heldEntry{},
		ended:      map[string]endedEntry{},
		endedOrder: make([]string, max),
	}
}

// reserveResult says why reserve refused.
type reserveResult int

const (
	reserved reserveResult = iota
	reserveFull
	reserveClosed
)

// reserve takes a place for an acquire about to start; the caller calls
// add or unreserve after it.
func (g *registry) reserve() reserveResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pruneLocked()
	switch {
	case g.closed:
		return reserveClosed
	case len(g.held)+g.pending >= g.max:
		return reserveFull
	}
	g.pending++
	return reserved
}

func (g *registry) unreserve() {
	g.mu.Lock()
	g.pending--
	g.mu.Unlock()
}

// add turns a reservation into a holding taken at sentAt. It is false
// after close: the caller must release the holding itself.
func (g *registry) add(res Resource, h Holding, stream bool, sentAt time.Time) (*heldEntry, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending--
	if g.closed {
		return nil, false
	}
	e := &heldEntry{res: res, h: h, stream: stream, ended: make(chan struct{}), heapIndex: -1}
	g.held[h.Token()] = e
	if stream {
		e.stop, e.told = make(chan struct{}), make(chan struct{})
	} else {
		e.validUntil = sentAt.Add(h.TTL())
		heap.Push(&g.expiry, e)
	}
	return e, true
}

// lookupResult says what a token names.
type lookupResult int

const (
	lookupHeld     lookupResult = iota
	lookupReleased              // released by this sidecar
	lookupLost                  // ended lost, or never held here, or expired
)

// lookup finds the holding of res with token.
func (g *registry) lookup(res Resource, token string) (*heldEntry, lookupResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pruneLocked()
	if e, ok := g.held[token]; ok && sameResource(e.res, res) {
		return e, lookupHeld
	}
	if ee, ok := g.ended[token]; ok && sameResource(ee.res, res) && ee.released {
		return nil, lookupReleased
	}
	return nil, lookupLost
}

func sameResource(a, b Resource) bool { return a.Kind == b.Kind && a.Name == b.Name }

// renewing takes e out of the expiry heap for a renew about to be sent,
// so that no prune forgets it while the renew is in flight: a renew that
// succeeds must leave a holding the sidecar still knows and can release.
// It is false when e has left the registry meanwhile. The caller holds
// e.mu, and calls renewed after the renew.
func (g *registry) renewing(e *heldEntry) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pruneLocked()
	if g.held[e.h.Token()] != e {
		return false
	}
	if e.heapIndex >= 0 {
		heap.Remove(&g.expiry, e.heapIndex)
	}
	return true
}

// renewed puts e back in the expiry heap after renewing: its validity is
// its TTL from returnedAt when the renew may have run in Redis (mayHave:
// it succeeded, or its reply was lost), else as it was (the next prune
// forgets it if that has passed).
func (g *registry) renewed(e *heldEntry, mayHave bool, returnedAt time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held[e.h.Token()] != e || e.heapIndex >= 0 {
		return
	}
	if mayHave {
		e.validUntil = returnedAt.Add(e.h.TTL())
	}
	heap.Push(&g.expiry, e)
}

// remove forgets e, which ended: released by this sidecar or lost.
func (g *registry) remove(e *heldEntry, released bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removeLocked(e, released)
}

func (g *registry) removeLocked(e *heldEntry, released bool) {
	token := e.h.Token()
	if g.held[token] != e {
		return
	}
	delete(g.held, token)
	if e.heapIndex >= 0 {
		heap.Remove(&g.expiry, e.heapIndex)
	}
	if old := g.endedOrder[g.endedNext]; old != "" {
		delete(g.ended, old)
	}
	g.endedOrder[g.endedNext] = token
	g.endedNext = (g.endedNext + 1) % len(g.endedOrder)
	g.ended[token] = endedEntry{res: e.res, released: released}
}

// pruneLocked forgets the holdings whose lease has surely run out in
// Redis: nobody renewed them in time, so they are lost.
func (g *registry) pruneLocked() {
	now := g.now()
	for len(g.expiry) > 0 && !now.Before(g.expiry[0].validUntil) {
		g.removeLocked(g.expiry[0], false)
	}
}

// counts returns the holdings and the acquires under way.
func (g *registry) counts() (held, pending int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pruneLocked()
	return len(g.held), g.pending
}

// close refuses every later acquire and returns the holdings left.
func (g *registry) close() []*heldEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	out := make([]*heldEntry, 0, len(g.held))
	for _, e := range g.held {
		out = append(out, e)
	}
	return out
}

// expiryHeap is a min-heap of entries by validUntil.
type expiryHeap []*heldEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].validUntil.Before(h[j].validUntil) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*heldEntry)
	e.heapIndex = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.heapIndex = -1
	*h = old[:len(old)-1]
	return e
}
