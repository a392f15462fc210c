package chaos

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"time"
)

// Proxy is a TCP proxy that injects faults between one client and one
// upstream: added latency, a blackhole that accepts connections but drops
// every byte, a silence on the connections that subscribed (pub/sub), a
// stall of one single connection, a fault on the connection that sends a
// given command (Arm), and closing every connection at once.
type Proxy struct {
	ln net.Listener

	mu        sync.Mutex
	target    string
	latency   time.Duration
	blackhole bool
	// silentSub withholds every reply on connections that sent SUBSCRIBE.
	silentSub bool
	// silenced counts the SUBSCRIBE commands whose confirmation silentSub
	// withheld.
	silenced int
	// stallDropped counts the bytes dropped on stalled links since the
	// last StallActive.
	stallDropped int64
	// trigger is what Arm waits for, in lower case; nil when not armed.
	trigger []byte
	fault   Fault
	fired   chan struct{}
	links   map[*link]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// link is one proxied connection. Its fields below once are guarded by
// Proxy.mu.
type link struct {
	client, upstream net.Conn
	once             sync.Once

	// lastSent is when the client last sent bytes.
	lastSent time.Time
	// subscribed: the client sent SUBSCRIBE on this connection.
	subscribed bool
	// broken: bytes were dropped, so the stream is corrupt; the link is
	// closed when the fault that dropped them ends.
	broken  bool
	stalled bool
	// muted: an armed fault fired on this link; no reply passes any more.
	muted bool
	// dropRequests: the fault was Drop; no request passes any more.
	dropRequests bool
}

func (l *link) close() {
	l.once.Do(func() {
		_ = l.client.Close()
		_ = l.upstream.Close()
	})
}

// chunk is a piece of a stream and the moment it may be delivered.
type chunk struct {
	data []byte
	due  time.Time
	// fire is the armed fault this chunk set off, if any: it takes
	// effect once the chunk is delivered.
	fire *firing
}

// Fault is what Arm does to the connection that sends its command.
type Fault int

const (
	// Stall: the request, and every later one, reaches the upstream; no
	// reply comes back on that connection any more. It is a peer that
	// stops answering mid-conversation (a half-dead NAT entry, a stuck
	// proxy), or a reply lost after the request ran. Unlike StallActive,
	// the requests still go through.
	Stall Fault = iota
	// Drop: neither the request nor any later one on that connection
	// reaches the upstream, and no reply comes back.
	Drop
	// Kill: the request reaches the upstream, then the client's
	// connection is closed before the reply; go-redis sees EOF, and may
	// send the request again on a new connection.
	Kill
)

func (f Fault) String() string {
	switch f {
	case Stall:
		return "stall"
	case Drop:
		return "drop"
	case Kill:
		return "kill"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// firing is an armed fault that went off on a link.
type firing struct {
	fault Fault
	fired chan struct{}
}

// done completes the fault once its request was delivered (or dropped):
// Kill closes the client's connection, and fired is closed.
func (f *firing) done(l *link) {
	if f.fault == Kill {
		_ = l.client.Close()
	}
	close(f.fired)
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, links: map[*link]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the proxy's listen address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget changes the upstream for new connections.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// SetLatency delays every byte read from now on by d, in both directions.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetBlackhole starts or ends a blackhole. While on, connections are still
// accepted but every byte is dropped. Ending it closes every connection,
// since their streams lost bytes; clients reconnect.
func (p *Proxy) SetBlackhole(on bool) {
	p.mu.Lock()
	was := p.blackhole
	p.blackhole = on
	p.mu.Unlock()
	if was && !on {
		p.CloseAll()
	}
}

// SetSilentAfterSubscribe starts or ends the pub/sub silence: while on, a
// connection on which the client has sent SUBSCRIBE (before or during the
// silence) stays open but forwards no reply, not even the subscription's
// confirmation; every other connection works. It is a half-open pub/sub
// connection, as a NAT or a load balancer can leave behind. Ending it
// closes the silenced connections, since their streams lost bytes.
//
// SUBSCRIBE is recognised as the RESP bulk string "subscribe" (any case)
// in what the client sends, which is how go-redis sends it.
func (p *Proxy) SetSilentAfterSubscribe(on bool) {
	p.mu.Lock()
	p.silentSub = on
	var broken []*link
	if !on {
		for l := range p.links {
			if l.subscribed && l.broken {
				broken = append(broken, l)
			}
		}
	}
	p.mu.Unlock()
	for _, l := range broken {
		l.close()
	}
}

// Silenced is the number of SUBSCRIBE commands whose confirmation the
// silence withheld so far.
func (p *Proxy) Silenced() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.silenced
}

// CloseSubscribed closes every connection that sent SUBSCRIBE; the client
// resubscribes on a new one.
func (p *Proxy) CloseSubscribed() {
	p.closeLinks(func(l *link) bool { return l.subscribed })
}

// StallActive stalls one connection: the one that is not subscribed and on
// which the client sent last, which is the one a pool hands out next. A
// stalled connection stays open but forwards nothing either way; every
// other connection, and every new one, works. It reports whether there was
// a connection to stall.
func (p *Proxy) StallActive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pick *link
	for l := range p.links {
		if !l.subscribed && !l.stalled && (pick == nil || l.lastSent.After(pick.lastSent)) {
			pick = l
		}
	}
	if pick != nil {
		pick.stalled = true
		p.stallDropped = 0
	}
	return pick != nil
}

// Unstall closes the stalled connections (their streams lost bytes) and
// returns the number of bytes dropped on them since the last StallActive.
func (p *Proxy) Unstall() int64 {
	p.mu.Lock()
	var stalled []*link
	for l := range p.links {
		if l.stalled {
			stalled = append(stalled, l)
		}
	}
	dropped := p.stallDropped
	p.mu.Unlock()
	for _, l := range stalled {
		l.close()
	}
	return dropped
}

// Arm sets off f on the next chunk the client sends, on any connection,
// that contains command (case-insensitive, as in "subscribe" or
// "evalsha"); f then holds on that connection for the rest of its life.
// It fires once. The returned channel is closed when f has taken effect:
// the request was delivered to the upstream (Stall, Kill, after which the
// client's connection is closed) or dropped (Drop). Arming again before
// it fired replaces the armed fault, whose channel then never closes.
func (p *Proxy) Arm(command string, f Fault) <-chan struct{} {
	fired := make(chan struct{})
	p.mu.Lock()
	p.trigger, p.fault, p.fired = bytes.ToLower([]byte(command)), f, fired
	p.mu.Unlock()
	return fired
}

// Heal removes every fault: latency, blackhole, silence, stalls, and the
// armed fault (disarmed if it has not fired; the connections it broke are
// closed).
func (p *Proxy) Heal() {
	p.SetLatency(0)
	p.SetBlackhole(false)
	p.SetSilentAfterSubscribe(false)
	p.Unstall()
	p.mu.Lock()
	p.trigger, p.fired = nil, nil
	p.mu.Unlock()
	p.closeLinks(func(l *link) bool { return l.muted })
}

// CloseAll closes every open connection; new ones are accepted.
func (p *Proxy) CloseAll() {
	p.closeLinks(func(*link) bool { return true })
}

// closeLinks closes the open connections that match, a predicate called
// under p.mu.
func (p *Proxy) closeLinks(match func(*link) bool) {
	p.mu.Lock()
	var links []*link
	for l := range p.links {
		if match(l) {
			links = append(links, l)
		}
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.CloseAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &link{client: c, upstream: up}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.close()
			return
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(l, c, up, true) })
		p.wg.Go(func() { p.pipe(l, up, c, false) })
	}
}

// subscribeCmd is the command name SUBSCRIBE as a RESP bulk string.
var subscribeCmd = []byte("$9\r\nsubscribe\r\n")

// admit decides, under p.mu, whether a chunk read from one side is
// forwarded, and returns the latency to apply and the armed fault the
// chunk set off, if any.
func (p *Proxy) admit(l *link, data []byte, fromClient bool) (bool, time.Duration, *firing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var fire *firing
	if fromClient {
		l.lastSent = time.Now()
		lower := bytes.ToLower(data)
		if bytes.Contains(lower, subscribeCmd) {
			l.subscribed = true
			if p.silentSub {
				p.silenced++
			}
		}
		if p.trigger != nil && bytes.Contains(lower, p.trigger) {
			// Muted before the request leaves, so its reply cannot slip
			// through.
			fire = &firing{fault: p.fault, fired: p.fired}
			p.trigger, p.fired = nil, nil
			l.muted = true
			l.dropRequests = l.dropRequests || fire.fault == Drop
		}
	}
	drop := p.blackhole || l.stalled
	if fromClient {
		drop = drop || l.dropRequests
	} else {
		drop = drop || l.muted || (p.silentSub && l.subscribed)
	}
	if drop {
		l.broken = true
		if l.stalled {
			p.stallDropped += int64(len(data))
		}
	}
	return !drop, p.latency, fire
}

// pipe copies src to dst through a queue, so that latency delays each
// chunk without reordering the stream.
func (p *Proxy) pipe(l *link, src, dst net.Conn, fromClient bool) {
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	queue := make(chan chunk, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range queue {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.data); err != nil {
				l.close()
				for c := range queue {
					if c.fire != nil {
						c.fire.done(l)
					}
				}
				if c.fire != nil {
					c.fire.done(l)
				}
				return
			}
			if c.fire != nil {
				c.fire.done(l)
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			ok, lat, fire := p.admit(l, buf[:n], fromClient)
			switch {
			case ok:
				queue <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(lat), fire: fire}
			case fire != nil:
				fire.done(l)
			}
		}
		if err != nil {
			// EOF, reset or closed: drain what is queued, then close both
			// sides.
			break
		}
	}
	close(queue)
	<-done
}
