//go:build linux

package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
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

// respConn is a raw client connection through the proxy, so that each
// command is one chunk and a connection is never replaced behind the test.
type respConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialResp(t *testing.T, addr string) *respConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &respConn{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes one command as a RESP array.
func (rc *respConn) send(args ...string) {
	rc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		rc.t.Fatal(err)
	}
}

// reply reads one line of reply, waiting at most d.
func (rc *respConn) reply(d time.Duration) (string, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	return rc.r.ReadString('\n')
}

// Arm's faults, each on the next request that holds its command: it
// reaches Redis or not, no reply comes back, the client's connection is
// closed or stays open, and the fault fires once.
func TestProxyArm(t *testing.T) {
	for _, tc := range []struct {
		fault Fault
		// reaches: the request, and a later one on its connection, run in
		// Redis.
		reaches bool
		// closed: the client's connection is closed (EOF), rather than
		// left open without replies.
		closed bool
	}{
		{Stall, true, false},
		{Drop, false, false},
		{Kill, true, true},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			srv := redistest.Start(t)
			direct := srv.Client()
			ctx := t.Context()
			p, err := NewProxy(srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			counter := func(key string) int {
				n, err := direct.Get(ctx, key).Int()
				if err != nil && !errors.Is(err, redis.Nil) {
					t.Fatal(err)
				}
				return n
			}
			settled := func(key string, want int) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for counter(key) != want && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				// A request that must not arrive has had the time to.
				time.Sleep(100 * time.Millisecond)
				if got := counter(key); got != want {
					t.Fatalf("%s = %d in Redis, want %d", key, got, want)
				}
			}
			rc := dialResp(t, p.Addr())
			fired := p.Arm("incr", tc.fault)
			// A request without the command goes by untouched.
			rc.send("GET", "n")
			if got, err := rc.reply(time.Second); err != nil || got != "$-1\r\n" {
				t.Fatalf("GET before the trigger: %q, %v", got, err)
			}
			rc.send("INCR", "n")
			select {
			case <-fired:
			case <-time.After(5 * time.Second):
				t.Fatal("the armed fault never fired")
			}
			want := 0
			if tc.reaches {
				want = 1
			}
			settled("n", want)
			got, err := rc.reply(300 * time.Millisecond)
			switch silent := errors.Is(err, os.ErrDeadlineExceeded); {
			case err == nil:
				t.Fatalf("INCR answered %q through the fault", got)
			case tc.closed && silent:
				t.Fatalf("connection left open: %v, want it closed", err)
			case !tc.closed && !silent:
				t.Fatalf("connection: %v, want it open and silent", err)
			}
			if !tc.closed {
				// The connection stays broken: a later request reaches
				// Redis as the first did, and is not answered either.
				rc.send("INCR", "m")
				settled("m", want)
				if got, err := rc.reply(300 * time.Millisecond); err == nil {
					t.Fatalf("a later INCR answered %q", got)
				}
			}
			// Fired once: the next connection is served.
			rc2 := dialResp(t, p.Addr())
			rc2.send("INCR", "n")
			if got, err := rc2.reply(time.Second); err != nil || got != fmt.Sprintf(":%d\r\n", want+1) {
				t.Fatalf("INCR on a new connection: %q, %v", got, err)
			}
		})
	}
	t.Run("healed", func(t *testing.T) {
		p, c := proxied(t)
		ctx := t.Context()
		fired := p.Arm("incr", Stall)
		p.Heal()
		if err := c.Incr(ctx, "n").Err(); err != nil {
			t.Fatalf("INCR after Heal disarmed: %v", err)
		}
		select {
		case <-fired:
			t.Fatal("a fault disarmed by Heal fired")
		default:
		}
		// Heal closes a connection the fault broke.
		p.Arm("incr", Stall)
		rc := dialResp(t, p.Addr())
		rc.send("INCR", "n")
		if got, err := rc.reply(300 * time.Millisecond); err == nil {
			t.Fatalf("stalled INCR answered %q", got)
		}
		p.Heal()
		if got, err := rc.reply(time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("stalled connection after Heal: %q, %v; want it closed", got, err)
		}
	})
}
