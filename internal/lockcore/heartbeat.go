package lockcore

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
	members map[string]*member // by owner token (refreshers lock)
	stop    chan struct{}
	// start runs the refresh loop a heartbeat after the first waiter
	// joined: an uncontended acquire, which leaves before, costs a timer
	// and no goroutine.
	start *time.Timer
	// side is the refresher's own client; release gives it back. Both are
	// set by run.
	side    Client
	release func()
}

// member is one waiter's registration with its queue's refresher. Its
// fields are guarded by the refreshers lock.
type member struct {
	r     *refresher
	token string
	joins int // registrations under token
	// idleUntil is -1 while the waiter tries on its own timer; otherwise
	// it is idle, and the refresher wakes it through watcher once its rank
	// is at most idleUntil.
	idleUntil int
	watcher   *Watcher // nil until the waiter has subscribed
	leaveOnce sync.Once
}

// joinRefresher keeps token's entry in queue refreshed every heartbeat
// until the returned member leaves (idempotent). Each refresh is bounded
// by timeout and by the heartbeat: one not answered by then is overtaken
// by the next.
func joinRefresher(client Client, queue, deadlines, token string, heartbeat, timeout time.Duration) *member {
	key := refreshKey{client: client, queue: queue, deadlines: deadlines, heartbeat: heartbeat}
	shared := isComparable(client)
	refreshers.Lock()
	defer refreshers.Unlock()
	r := refreshers.m[key]
	if !shared || r == nil {
		r = &refresher{key: key, timeout: timeout, members: map[string]*member{}, stop: make(chan struct{})}
		if shared {
			refreshers.m[key] = r
		}
		r.start = time.AfterFunc(heartbeat, r.run)
	}
	r.timeout = min(r.timeout, timeout)
	m := r.members[token]
	if m == nil {
		m = &member{r: r, token: token, idleUntil: -1}
		r.members[token] = m
	}
	m.joins++
	return m
}

// leave ends the registration; the last member of a refresher stops it.
// It is idempotent.
func (m *member) leave() {
	m.leaveOnce.Do(func() {
		r := m.r
		refreshers.Lock()
		defer refreshers.Unlock()
		m.joins--
		if m.joins == 0 {
			delete(r.members, m.token)
		}
		if len(r.members) == 0 {
			r.start.Stop()
			close(r.stop)
			if refreshers.m[r.key] == r {
				delete(refreshers.m, r.key)
			}
		}
	})
}

// watch gives the refresher the waiter's subscription, through which it
// wakes the waiter.
func (m *member) watch(w *Watcher) {
	refreshers.Lock()
	m.watcher = w
	refreshers.Unlock()
}

// idle says that the waiter makes no tries of its own until the refresher
// sees its rank at most until (or its entry gone) and wakes it; active
// says that it tries on its own timer again.
func (m *member) idle(until int) {
	refreshers.Lock()
	m.idleUntil = until
	refreshers.Unlock()
}

func (m *member) active() { m.idle(-1) }

// run refreshes at once (it starts a heartbeat after the first join), then
// every heartbeat, until stop.
func (r *refresher) run() {
	r.side, r.release = sideClient(r.key.client)
	defer r.release()
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
// and cut short by stop, and wakes the idle waiters whose turn is near.
func (r *refresher) refresh() {
	lifetime := QueueMissedHeartbeats * r.key.heartbeat
	refreshers.Lock()
	args := make([]any, 0, 1+len(r.members))
	args = append(args, lifetime.Milliseconds())
	members := make([]*member, 0, len(r.members))
	for token, m := range r.members {
		args = append(args, token)
		members = append(members, m)
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
	ranks, err := bounded(ctx, timeout, deadlineClient(r.side), func(ctx context.Context) ([]int64, error) {
		return refreshEntries(ctx, r.side, r.key.queue, r.key.deadlines, args)
	}, nil)
	if err == nil && len(ranks) != len(members) {
		err = fmt.Errorf("%w: %d ranks for %d entries", ErrUnexpectedReply, len(ranks), len(members))
	}
	refreshers.Lock()
	defer refreshers.Unlock()
	for i, m := range members {
		// A failed refresh wakes every idle waiter: its own try tells it
		// what became of its entry (or of Redis).
		if m.idleUntil < 0 || (err == nil && ranks[i] > int64(m.idleUntil)) {
			continue
		}
		m.idleUntil = -1
		if m.watcher != nil {
			m.watcher.wake()
		}
	}
}

// refreshEntries runs queue_refresh.lua: args are the lifetime in ms,
// then the tokens. It returns each token's rank, or -1 for an entry that
// is gone.
func refreshEntries(ctx context.Context, client Client, queue, deadlines string, args []any) ([]int64, error) {
	reply, err := queueRefreshScript.Run(ctx, client, []string{queue, deadlines}, args...).Result()
	if err != nil {
		return nil, err
	}
	r, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUnexpectedReply, reply)
	}
	if kind(r) == "foreign" {
		return nil, foreignError(r)
	}
	ranks := make([]int64, len(r))
	for i, v := range r {
		if ranks[i], ok = v.(int64); !ok {
			return nil, fmt.Errorf("%w: %v", ErrUnexpectedReply, reply)
		}
	}
	return ranks, nil
}
