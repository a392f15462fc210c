//go:build unix

package locks_test

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// stallProxy is a TCP proxy in front of one Redis server that can make a
// connection go silent: once armed with a trigger, the next connection
// whose request contains it still delivers that request and everything
// after it to Redis, but never again forwards a reply. That is a peer that
// stops answering mid-conversation (a half-dead NAT entry, a stuck proxy),
// which no client timeout of go-redis covers for a subscription.
type stallProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu      sync.Mutex
	trigger []byte // lower case; nil when not armed
	conns   []net.Conn
	// stalled receives one value per connection that went silent.
	stalled chan struct{}
	wg      sync.WaitGroup
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{t: t, ln: ln, target: target, stalled: make(chan struct{}, 16)}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallProxy) Addr() string { return p.ln.Addr().String() }

// StallAfter arms the proxy: the next connection that sends a request
// containing command (case-insensitive, as in "subscribe" or "evalsha")
// goes silent from that request on. It fires once.
func (p *stallProxy) StallAfter(command string) {
	p.mu.Lock()
	p.trigger = bytes.ToLower([]byte(command))
	p.mu.Unlock()
}

// fire reports whether chunk matches the armed trigger, and disarms it.
func (p *stallProxy) fire(chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trigger == nil || !bytes.Contains(bytes.ToLower(chunk), p.trigger) {
		return false
	}
	p.trigger = nil
	return true
}

func (p *stallProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *stallProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		upstream, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.track(client)
		p.track(upstream)
		var silent sync.Once
		silence := make(chan struct{})
		p.wg.Go(func() { // requests: always forwarded
			defer upstream.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					if p.fire(buf[:n]) {
						// Silenced before the request leaves, so its
						// reply cannot slip through.
						silent.Do(func() { close(silence) })
						p.stalled <- struct{}{}
					}
					if _, werr := upstream.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
		p.wg.Go(func() { // replies: dropped once silent
			defer client.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := upstream.Read(buf)
				if n > 0 {
					select {
					case <-silence:
					default:
						if _, werr := client.Write(buf[:n]); werr != nil {
							return
						}
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}
