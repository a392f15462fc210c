package lockcore

// Hooks for the tests of pkg/locks and pkg/redislock; this package is
// internal, so they are not public API.

// ConfirmedWatchers is the number of Watchers on client's shared pub/sub
// connection whose subscriptions Redis has confirmed.
func ConfirmedWatchers(client Client) int {
	key, ok := hubKeyOf(client, "")
	if !ok {
		return 0
	}
	hubs.Lock()
	h := hubs.m[key]
	hubs.Unlock()
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[*Watcher]bool{}
	for _, ch := range h.channels {
		for w := range ch.watchers {
			if w.pending == 0 {
				seen[w] = true
			}
		}
	}
	return len(seen)
}

// FairAcquireHash and SemaphoreAcquireHash are the SHA1s of the fair
// waiters' try scripts, for a proxy that stalls a try.
var (
	FairAcquireHash      = fairAcquireScript.Hash()
	SemaphoreAcquireHash = semAcquireScript.Hash()
)

// Direct reports whether l runs its calls on the caller's goroutine (see
// bounded).
func (l *Lock) Direct() bool { return l.direct }
