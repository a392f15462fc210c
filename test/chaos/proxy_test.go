//go:build linux

package chaos

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
)

// proxied is a client of a real Redis through a fresh Proxy, with one
// connection per command at a time and no retries, so that each fault
// meets exactly the connection it targets.
func proxied(t *testing.T) (*Proxy, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	p, err := NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	return p, c
}

func TestProxySilentAfterSubscribe(t *testing.T) {
	p, c := proxied(t)
	ctx := t.Context()
	p.SetSilentAfterSubscribe(true)
	ps := c.Subscribe(ctx, "ch")
	defer ps.Close()
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := ps.Receive(rctx)
	cancel()
	if err == nil {
		t.Fatal("the subscription was confirmed during the silence")
	}
	if n := p.Silenced(); n != 1 {
		t.Errorf("Silenced() = %d, want 1", n)
	}
	// Other connections, old and new, still work.
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("a command outside pub/sub failed during the silence: %v", err)
	}
	p.SetSilentAfterSubscribe(false)
	// The silenced connection was closed; go-redis resubscribes on a new one.
	ps2 := c.Subscribe(ctx, "ch2")
	defer ps2.Close()
	rctx, cancel = context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := ps2.Receive(rctx); err != nil {
		t.Fatalf("no confirmation after the silence ended: %v", err)
	}
}

func TestProxyStallActive(t *testing.T) {
	p, c := proxied(t)
	ctx := t.Context()
	if !p.StallActive() {
		t.Fatal("no connection to stall after a PING")
	}
	// The pool hands out the connection it used last: the stalled one.
	err := c.Get(ctx, "k").Err()
	if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		t.Fatalf("GET on the stalled connection: %v, want a timeout", err)
	}
	// go-redis dropped that connection; the next one works.
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET on a new connection during the stall: %v", err)
	}
	if dropped := p.Unstall(); dropped == 0 {
		t.Error("Unstall reported no bytes dropped")
	}
}
