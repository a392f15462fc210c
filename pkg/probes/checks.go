package probes

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// PingTimeout bounds each ping made by a CachedPing check.
const PingTimeout = time.Second

var (
	errNotRunning = errors.New("probes: election loop not running")
	errNotLeader  = errors.New("probes: not leader")
	errNilPing    = errors.New("probes: nil ping")
)

// ElectionLoop is a liveness check: it fails only when the election loop is
// wedged (e.Healthy returns an error), never because this replica is a
// follower or the lock store is unreachable. *election.Elector fits.
func ElectionLoop(e interface{ Healthy() error }) Checker {
	return func(*http.Request) error { return e.Healthy() }
}

// Running fails while the election loop is not running: before Run starts
// and after it returns. *election.Elector fits.
func Running(e interface{ Status() election.Status }) Checker {
	return func(*http.Request) error {
		if !e.Status().Running {
			return errNotRunning
		}
		return nil
	}
}

// Leader is a readiness check for ready-when=leader: it fails unless this
// replica leads with a valid term. Followers are never ready, which blocks
// rolling updates, helm --wait and PodDisruptionBudgets; see the package
// documentation. *election.Elector fits.
func Leader(e interface{ IsLeader() bool }) Checker {
	return func(*http.Request) error {
		if !e.IsLeader() {
			return errNotLeader
		}
		return nil
	}
}

// CachedPing is a readiness check for ready-when=connected: it calls ping,
// with a context that ends after PingTimeout, and keeps the outcome,
// success or failure, for ttl measured on now, so that frequent probes do
// not hammer the store. It is safe for concurrent use: at most one ping is
// in flight, and callers that arrive meanwhile share its outcome. A caller
// whose request ends first returns its request's error; the ping goes on
// for the others (its context keeps the request's values, not its
// cancellation). ping must honour its context. ttl <= 0 caches nothing;
// now nil means time.Now.
func CachedPing(ping func(context.Context) error, ttl time.Duration, now func() time.Time) Checker {
	if ping == nil {
		return func(*http.Request) error { return errNilPing }
	}
	if now == nil {
		now = time.Now
	}
	c := &cachedPing{ping: ping, ttl: ttl, now: now}
	return c.check
}

type cachedPing struct {
	ping func(context.Context) error
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	has      bool      // a ping has completed
	err      error     // its outcome
	at       time.Time // when it completed, on now
	inflight *pingCall // the ping under way, if any
}

type pingCall struct {
	done chan struct{}
	err  error
}

func (c *cachedPing) check(r *http.Request) error {
	ctx := r.Context()
	c.mu.Lock()
	if c.has && c.now().Sub(c.at) < c.ttl {
		err := c.err
		c.mu.Unlock()
		return err
	}
	call := c.inflight
	if call == nil {
		call = &pingCall{done: make(chan struct{})}
		c.inflight = call
		go c.run(context.WithoutCancel(ctx), call)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *cachedPing) run(ctx context.Context, call *pingCall) {
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	err := c.ping(ctx)
	cancel()

	c.mu.Lock()
	c.has, c.err, c.at = true, err, c.now()
	c.inflight = nil
	call.err = err
	c.mu.Unlock()
	close(call.done)
}
