package chaos

import (
	"net"
	"sync"
	"time"
)

// Proxy is a TCP proxy that injects faults between one client and one
// upstream: added latency, a blackhole that accepts connections but drops
// every byte, and closing every connection at once.
type Proxy struct {
	ln net.Listener

	mu        sync.Mutex
	target    string
	latency   time.Duration
	blackhole bool
	links     map[*link]struct{}
	closed    bool
	wg        sync.WaitGroup
}

type link struct {
	client, upstream net.Conn
	once             sync.Once
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

// Heal removes latency and blackhole.
func (p *Proxy) Heal() {
	p.SetLatency(0)
	p.SetBlackhole(false)
}

// CloseAll closes every open connection; new ones are accepted.
func (p *Proxy) CloseAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
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
		p.wg.Go(func() { p.pipe(l, c, up) })
		p.wg.Go(func() { p.pipe(l, up, c) })
	}
}

// pipe copies src to dst through a queue, so that latency delays each
// chunk without reordering the stream.
func (p *Proxy) pipe(l *link, src, dst net.Conn) {
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
				for range queue {
				}
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop, lat := p.blackhole, p.latency
			p.mu.Unlock()
			if !drop {
				queue <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(lat)}
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
