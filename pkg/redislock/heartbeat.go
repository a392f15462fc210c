package redislock

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed queue_refresh.lua
	queueRefreshSource string

	queueRefreshScript = redis.NewScript(queuePrelude + queueRefreshSource)
)

// A fair waiter's queue entry is refreshed every heartbeat on a timer of
// its own, not by its tries: a try can wait for a pooled connection, and
// the subscription before it for its confirmation, for longer than the
// entry lives (3 heartbeats), and a live waiter would then be pruned as
// dead and queue again at the end (at 1000 waiters through 3 sidecars, 650
// of them were). The waiters of one queue on one Client share that timer:
// one script per heartbeat refreshes all their entries, so the refresh
// costs the same for 1 waiter or 1000, and cannot be starved by the tries.
//
// The refresh never creates an entry (queue_refresh.lua), so it is safe
// before the first try has queued the waiter and after it has left or
// acquired.

// refreshKey names one shared refresher.
type refreshKey struct {
	client           Client
	queue, deadlines string
	heartbeat        time.Duration
}

var refreshers = struct {
	sync.Mutex
	m map[refreshKey]*refresher
}{m: map[refreshKey]*refresher{}}

type refresher struct {
	key     refreshKey
	timeout time.Duration
	tokens  map[string]int // token -> registrations (refreshers lock)
	stop    chan struct{}
	// start runs the refresh loop a heartbeat after the first waiter
	// joined: an uncontended acquire, which leaves before, costs a timer
	// and no goroutine.
	start *time.Timer
}

// joinHeartbeat keeps token's entry in queue refreshed every heartbeat
// until the returned leave is called (idempotent). Each refresh is bounded
// by timeout and by the heartbeat: one not answered by then is overtaken
// by the next.
func joinHeartbeat(client Client, queue, deadlines, token string, heartbeat, timeout time.Duration) (leave func()) {
	key := refreshKey{client: client, queue: queue, deadlines: deadlines, heartbeat: heartbeat}
	shared := isComparable(client)
	refreshers.Lock()
	r := refreshers.m[key]
	if !shared || r == nil {
		r = &refresher{key: key, timeout: timeout, tokens: map[string]int{}, stop: make(chan struct{})}
		if shared {
			refreshers.m[key] = r
		}
		r.start = time.AfterFunc(heartbeat, r.run)
	}
	r.timeout = min(r.timeout, timeout)
	r.tokens[token]++
	refreshers.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			refreshers.Lock()
			defer refreshers.Unlock()
			r.tokens[token]--
			if r.tokens[token] == 0 {
				delete(r.tokens, token)
			}
			if len(r.tokens) == 0 {
				r.start.Stop()
				close(r.stop)
				if refreshers.m[key] == r {
					delete(refreshers.m, key)
				}
			}
		})
	}
}

// run refreshes at once (it starts a heartbeat after the first join), then
// every heartbeat, until stop.
func (r *refresher) run() {
	t := time.NewTicker(r.key.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		r.refresh()
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
	}
}

// refresh extends every registered entry once, bounded by the heartbeat
// and cut short by stop.
func (r *refresher) refresh() {
	lifetime := QueueMissedHeartbeats * r.key.heartbeat
	refreshers.Lock()
	tokens := make([]any, 0, 1+len(r.tokens))
	tokens = append(tokens, lifetime.Milliseconds())
	for token := range r.tokens {
		tokens = append(tokens, token)
	}
	timeout := min(r.timeout, r.key.heartbeat)
	refreshers.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	_, _ = bounded(ctx, timeout, deadlineClient(r.key.client), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, refreshEntries(ctx, r.key.client, r.key.queue, r.key.deadlines, tokens)
	}, nil)
}

// refreshEntries runs queue_refresh.lua: args are the lifetime in ms,
// then the tokens.
func refreshEntries(ctx context.Context, client Client, queue, deadlines string, args []any) error {
	reply, err := queueRefreshScript.Run(ctx, client, []string{queue, deadlines}, args...).Result()
	if err != nil {
		return err
	}
	switch r := reply.(type) {
	case int64:
		return nil
	case []any:
		if kind(r) == "foreign" {
			return foreignError(r)
		}
	}
	return fmt.Errorf("%w: %v", ErrUnexpectedReply, reply)
}
