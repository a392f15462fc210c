package runs_test

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// fault is what faultProxy does to the connection that sends its trigger.
type fault int

const (
	// stall: the request reaches Redis, no reply ever comes back.
	stall fault = iota
	// drop: the request never reaches Redis, no reply comes back.
	drop
	// kill: the request reaches Redis, then the client's connection is
	// closed before the reply: go-redis sees EOF and sends it again.
	kill
)

func (f fault) String() string { return [...]string{"stall", "drop", "kill"}[f] }

// faultProxy is a TCP proxy in front of one Redis server that breaks one
// connection at a chosen request: once armed, the next connection whose
// request contains the trigger suffers the fault from that request on.
type faultProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	trigger []byte // lower case; nil when not armed
	fault   fault
	conns   []net.Conn
	// fired receives one value per fault.
	fired chan struct{}
	wg    sync.WaitGroup
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, fired: make(chan struct{}, 16)}
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

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// Arm makes the next request that contains command (case-insensitive)
// suffer f. It fires once.
func (p *faultProxy) Arm(command string, f fault) {
	p.mu.Lock()
	p.trigger, p.fault = bytes.ToLower([]byte(command)), f
	p.mu.Unlock()
}

// fire reports whether chunk matches the armed trigger, and disarms it.
func (p *faultProxy) fire(chunk []byte) (fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trigger == nil || !bytes.Contains(bytes.ToLower(chunk), p.trigger) {
		return 0, false
	}
	p.trigger = nil
	return p.fault, true
}

func (p *faultProxy) accept() {
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
		p.mu.Lock()
		p.conns = append(p.conns, client, upstream)
		p.mu.Unlock()
		var once sync.Once
		silence := make(chan struct{})
		silent := func() { once.Do(func() { close(silence) }) }
		p.wg.Go(func() { // requests
			defer upstream.Close()
			buf := make([]byte, 64<<10)
			dropping := false
			for {
				n, err := client.Read(buf)
				if n > 0 {
					f, fired := p.fire(buf[:n])
					if fired {
						silent() // before the request leaves, so no reply slips through
						dropping = f == drop
					}
					if !dropping {
						if _, werr := upstream.Write(buf[:n]); werr != nil {
							return
						}
					}
					if fired {
						if f == kill {
							_ = client.Close()
						}
						p.fired <- struct{}{}
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
