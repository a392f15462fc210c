package lockcore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// hubPingInterval is how often a hub pings its connection; a connection
// that has received nothing, not even the answer to the last ping, within
// one interval is replaced. go-redis's Channel uses the same 30s.
const hubPingInterval = 30 * time.Second

// hubWriteTimeout bounds one SUBSCRIBE or UNSUBSCRIBE write (and the dial
// of a new connection before it).
const hubWriteTimeout = DefaultSubscribeTimeout

// hubMaxBackoff bounds the delay before a new connection after connections
// that failed before Redis was heard on them (Redis down): the delay starts
// at 10ms and doubles.
const hubMaxBackoff = time.Second

// hubLinger is how long a hub keeps its connection after its last Watcher
// left: a client whose callers wait again and again (a web server's locks
// under contention) subscribes on it again, instead of dialling and
// greeting Redis for every wait.
const hubLinger = 2 * time.Second

// hubKey names the hub a subscription shares.
type hubKey struct {
	client Client
	// shard is the channel's hash tag on a *redis.Ring, whose shards do not
	// share channels: the scripts PUBLISH on the shard of the lock's keys.
	// Empty otherwise (a Cluster's SUBSCRIBE hears every node's PUBLISH).
	shard string
}

// hubs is the registry of live hubs. Adding and removing a Watcher hold its
// lock, so no Watcher can join a hub that is closing.
var hubs = struct {
	sync.Mutex
	m map[hubKey]*hub
}{m: map[hubKey]*hub{}}

type hub struct {
	client Client
	key    hubKey
	shared bool // registered in hubs.m: the Client is comparable

	mu       sync.Mutex
	closed   bool
	conn     *hubConn // the current connection
	channels map[string]*hubChannel
	watchers int // live Watchers
	failures int // consecutive connections that failed before Redis was heard
	// linger closes the hub hubLinger after its last Watcher left, unless
	// another joined meanwhile (hubs lock).
	linger  *time.Timer
	timer   *time.Timer
	timerAt time.Time
}

// hubChannel is one channel's state on the hub's current connection.
type hubChannel struct {
	watchers map[*Watcher]struct{}
	waiting  map[*Watcher]struct{} // watchers not yet confirmed
	// subscribed is whether the last command queued for the channel is
	// SUBSCRIBE; outstanding counts the commands queued or sent and not yet
	// confirmed. Redis answers the commands of one connection in order, so
	// the channel is subscribed for sure when both say so.
	subscribed   bool
	outstanding  int
	pendingSince time.Time
	timeout      time.Duration // the shortest SubscribeTimeout of its watchers
	// rewake: the channel is being subscribed again on a new connection;
	// wake its watchers once that is confirmed.
	rewake bool
}

func (c *hubChannel) confirmed() bool { return c.subscribed && c.outstanding == 0 }

// hubConn is one pub/sub connection with its command queue.
type hubConn struct {
	ops   []hubOp
	kick  chan struct{}
	done  chan struct{} // closed when retired
	ps    *redis.PubSub // set by the writer once created
	heard atomic.Bool   // something arrived since the last ping
	// received: Redis has been heard on this connection at all.
	received bool
}

type hubOp struct {
	subscribe bool
	channel   string
}

// hubKeyOf returns the key of the hub for channel on client, and false when
// client cannot be a map key (then the Watcher gets a hub of its own).
func hubKeyOf(client Client, channel string) (hubKey, bool) {
	if !isComparable(client) {
		return hubKey{}, false
	}
	key := hubKey{client: client}
	if _, ring := client.(*redis.Ring); ring {
		key.shard = hashTag(channel)
	}
	return key, true
}

// isComparable reports whether client can be a map key.
func isComparable(client Client) bool { return reflect.TypeOf(client).Comparable() }

// hashTag is the part of s between its first '{' and the next '}', or s.
func hashTag(s string) string {
	if i := strings.IndexByte(s, '{'); i >= 0 {
		if j := strings.IndexByte(s[i+1:], '}'); j > 0 {
			return s[i+1 : i+1+j]
		}
	}
	return s
}

// watch registers a new Watcher of channels on client's hub. Its ready
// channel is closed once every channel is confirmed.
func watch(client Client, name string, timeout time.Duration, channels []string) *Watcher {
	w := &Watcher{name: name, released: make(chan struct{}, 1), ready: make(chan struct{})}
	seen := map[string]bool{}
	for _, c := range channels {
		if !seen[c] {
			seen[c] = true
			w.channels = append(w.channels, c)
		}
	}
	key, shared := hubKeyOf(client, w.channels[0])
	hubs.Lock()
	defer hubs.Unlock()
	h := hubs.m[key]
	if !shared || h == nil {
		h = &hub{client: client, key: key, shared: shared, channels: map[string]*hubChannel{}}
		h.conn = h.newConn()
		go h.write(h.conn, 0)
		if shared {
			hubs.m[key] = h
		}
	}
	w.hub = h
	if h.linger != nil {
		h.linger.Stop()
		h.linger = nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for _, name := range w.channels {
		ch := h.channels[name]
		if ch == nil {
			ch = &hubChannel{watchers: map[*Watcher]struct{}{}, waiting: map[*Watcher]struct{}{}, timeout: timeout}
			h.channels[name] = ch
		}
		ch.timeout = min(ch.timeout, timeout)
		ch.watchers[w] = struct{}{}
		if !ch.subscribed {
			ch.subscribed = true
			h.queue(ch, true, name, now)
		}
		if !ch.confirmed() {
			ch.waiting[w] = struct{}{}
			w.pending++
		}
	}
	h.watchers++
	if w.pending == 0 {
		close(w.ready)
	}
	return w
}

// unwatch takes w out of its hub, and closes the hub when w was its last
// Watcher. It is idempotent.
func (w *Watcher) unwatch() {
	h := w.hub
	hubs.Lock()
	defer hubs.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if w.gone {
		return
	}
	w.gone = true
	h.watchers--
	if h.watchers == 0 && !h.shared {
		h.shutdown() // nobody else can join a hub of its own
		return
	}
	if h.watchers == 0 {
		h.linger = time.AfterFunc(hubLinger, h.expire)
	}
	now := time.Now()
	for _, name := range w.channels {
		ch := h.channels[name]
		delete(ch.watchers, w)
		delete(ch.waiting, w)
		if len(ch.watchers) == 0 && ch.subscribed {
			ch.subscribed = false
			h.queue(ch, false, name, now)
		}
	}
}

// expire closes the hub if it is still without Watchers, hubLinger after
// the last one left.
func (h *hub) expire() {
	hubs.Lock()
	defer hubs.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watchers > 0 || h.closed {
		return
	}
	h.linger = nil
	h.shutdown()
	if hubs.m[h.key] == h {
		delete(hubs.m, h.key)
	}
}

// queue appends a command for channel to the current connection (h.mu held).
func (h *hub) queue(ch *hubChannel, subscribe bool, name string, now time.Time) {
	ch.outstanding++
	if ch.pendingSince.IsZero() {
		ch.pendingSince = now
	}
	h.conn.ops = append(h.conn.ops, hubOp{subscribe: subscribe, channel: name})
	select {
	case h.conn.kick <- struct{}{}:
	default:
	}
	h.arm(ch.pendingSince.Add(ch.timeout))
}

func (h *hub) newConn() *hubConn {
	return &hubConn{kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// retire ends c (h.mu held). Closing the PubSub ends its reader.
func (h *hub) retire(c *hubConn) {
	close(c.done)
	if c.ps != nil {
		// Not under h.mu: Close waits for a write or dial in flight.
		go func(ps *redis.PubSub) { _ = ps.Close() }(c.ps)
	}
}

// shutdown closes the hub (h.mu held).
func (h *hub) shutdown() {
	h.closed = true
	h.retire(h.conn)
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	clear(h.channels)
}

// replace retires c, if it is still the current connection, and subscribes
// every live channel again on a new one (h.mu held).
func (h *hub) replace(c *hubConn) {
	if h.closed || h.conn != c {
		return
	}
	h.retire(c)
	var delay time.Duration
	if c.received {
		h.failures = 0
	} else {
		h.failures++
		delay = min(hubMaxBackoff, 10*time.Millisecond<<min(h.failures-1, 10))
	}
	h.conn = h.newConn()
	start := time.Now().Add(delay)
	for name, ch := range h.channels {
		if len(ch.watchers) == 0 {
			delete(h.channels, name)
			continue
		}
		ch.subscribed, ch.outstanding, ch.pendingSince, ch.rewake = true, 0, time.Time{}, true
		h.queue(ch, true, name, start)
	}
	go h.write(h.conn, delay)
}

// fail replaces c after an error on it.
func (h *hub) fail(c *hubConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.replace(c)
}

// arm makes sure the confirmation deadlines are checked at at or before.
func (h *hub) arm(at time.Time) {
	if h.timer != nil && !h.timerAt.After(at) {
		return
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	h.timerAt = at
	h.timer = time.AfterFunc(time.Until(at), h.checkDeadlines)
}

// checkDeadlines replaces the connection when a command on it has waited
// for its confirmation past its channel's timeout.
func (h *hub) checkDeadlines() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer = nil
	if h.closed {
		return
	}
	now := time.Now()
	var next time.Time
	for _, ch := range h.channels {
		if ch.outstanding == 0 {
			continue
		}
		deadline := ch.pendingSince.Add(ch.timeout)
		if !now.Before(deadline) {
			h.replace(h.conn)
			return
		}
		if next.IsZero() || deadline.Before(next) {
			next = deadline
		}
	}
	if !next.IsZero() {
		h.arm(next)
	}
}

// write sends c's queued commands in order, after delay; the first
// SUBSCRIBE creates the PubSub and starts its reader and pinger.
func (h *hub) write(c *hubConn, delay time.Duration) {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return
		}
	}
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		h.mu.Lock()
		ops, ps := c.ops, c.ps
		c.ops = nil
		h.mu.Unlock()
		for len(ops) > 0 {
			n := 1
			for n < len(ops) && ops[n].subscribe == ops[0].subscribe {
				n++
			}
			run := make([]string, n)
			for i, op := range ops[:n] {
				run[i] = op.channel
			}
			subscribe := ops[0].subscribe
			ops = ops[n:]
			ctx, cancel := context.WithTimeout(context.Background(), hubWriteTimeout)
			var err error
			switch {
			case ps == nil && subscribe:
				// go-redis dials here; a failed dial is retried by the
				// reader's first Receive, which subscribes all of them.
				ps = h.client.Subscribe(ctx, run...)
				h.mu.Lock()
				retired := h.closed || h.conn != c
				if !retired {
					c.ps = ps
				}
				h.mu.Unlock()
				if retired {
					cancel()
					_ = ps.Close()
					return
				}
				go h.read(c, ps)
				go h.ping(c, ps)
			case ps == nil:
				// Nothing subscribed yet on this connection: nothing to
				// unsubscribe either.
				h.mu.Lock()
				for _, name := range run {
					h.confirm(c, name)
				}
				h.mu.Unlock()
			case subscribe:
				err = ps.Subscribe(ctx, run...)
			default:
				err = ps.Unsubscribe(ctx, run...)
			}
			cancel()
			if err != nil {
				h.fail(c)
				return
			}
		}
	}
}

// read routes everything that arrives on c until it fails or is retired.
func (h *hub) read(c *hubConn, ps *redis.PubSub) {
	for {
		// No deadline: the connection is retired by closing ps.
		msg, err := ps.Receive(context.Background())
		if err != nil {
			h.fail(c)
			return
		}
		c.heard.Store(true)
		h.dispatch(c, msg)
	}
}

// ping checks c every hubPingInterval, and replaces it when nothing came
// back within one interval.
func (h *hub) ping(c *hubConn, ps *redis.PubSub) {
	t := time.NewTicker(hubPingInterval)
	defer t.Stop()
	pinged := false
	for {
		select {
		case <-t.C:
		case <-c.done:
			return
		}
		if pinged && !c.heard.Swap(false) {
			h.fail(c)
			return
		}
		c.heard.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), hubWriteTimeout)
		err := ps.Ping(ctx)
		cancel()
		if err != nil && !errors.Is(err, redis.ErrClosed) {
			h.fail(c)
			return
		}
		pinged = true
	}
}

func (h *hub) dispatch(c *hubConn, msg any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.conn != c {
		return
	}
	c.received = true
	switch m := msg.(type) {
	case *redis.Message:
		if ch := h.channels[m.Channel]; ch != nil {
			for w := range ch.watchers {
				w.wake()
			}
		}
	case *redis.Subscription:
		if m.Kind == "subscribe" || m.Kind == "unsubscribe" {
			h.confirm(c, m.Channel)
		}
	}
}

// confirm counts one confirmation for channel name on c (h.mu held).
func (h *hub) confirm(c *hubConn, name string) {
	ch := h.channels[name]
	if ch == nil || ch.outstanding == 0 {
		return
	}
	ch.outstanding--
	if ch.outstanding > 0 {
		return
	}
	ch.pendingSince = time.Time{}
	if !ch.subscribed {
		if len(ch.watchers) == 0 {
			delete(h.channels, name)
		}
		return
	}
	for w := range ch.waiting {
		w.pending--
		if w.pending == 0 {
			close(w.ready)
		}
	}
	clear(ch.waiting)
	if ch.rewake {
		ch.rewake = false
		for w := range ch.watchers {
			w.wake()
		}
	}
}
