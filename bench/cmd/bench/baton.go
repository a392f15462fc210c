package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
)

// leadEvent is one candidate starting a term.
type leadEvent struct {
	who int
	at  time.Time
}

// batonGroup is baton as a library: candidates in this process, each an
// election.Elector over a redislock.Lock with its own Redis client.
type batonGroup struct {
	e       *env
	name    string
	ttl     time.Duration
	channel string
	events  chan leadEvent
	cands   []*batonCand
}

type batonCand struct {
	who     int
	client  *redis.Client
	counter *cmdCounter
	locker  *freezeLocker
	el      *election.Elector
	cancel  context.CancelFunc
	done    chan struct{}
}

func newBatonGroup(ctx context.Context, e *env, name string, n int, ttl time.Duration) (*batonGroup, error) {
	g := &batonGroup{e: e, name: name, ttl: ttl, events: make(chan leadEvent, 4096)}
	for i := range n {
		c := &batonCand{who: i}
		g.cands = append(g.cands, c)
		if err := g.start(ctx, c); err != nil {
			g.close()
			return nil, err
		}
	}
	return g, nil
}

// start runs candidate c's elector: first run, or again after a crash.
func (g *batonGroup) start(ctx context.Context, c *batonCand) error {
	if c.client == nil {
		c.counter = newCmdCounter()
		c.client = g.e.newClient(c.counter)
	}
	opts := redislock.Options{Prefix: "bench"}
	lock, err := redislock.New(c.client, g.name, opts)
	if err != nil {
		return err
	}
	g.channel = releaseChannel(opts.Prefix, g.name)
	c.locker = &freezeLocker{inner: redislock.NewLocker(lock)}
	c.el, err = election.New(election.Config{
		Locker:   c.locker,
		Name:     g.name,
		Identity: fmt.Sprintf("cand-%d", c.who),
		LeaseTTL: g.ttl,
		OnStartedLeading: func(context.Context, election.Term) {
			g.events <- leadEvent{who: c.who, at: time.Now()}
		},
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		_ = c.el.Run(rctx)
	}()
	return nil
}

// releaseChannel is the channel on which the lock name under prefix
// announces its releases, as pkg/redislock and pkg/locks spell it.
func releaseChannel(prefix, name string) string { return prefix + ":{" + name + "}:released" }

// next waits for the next term to start.
func (g *batonGroup) next(ctx context.Context, limit time.Duration) (leadEvent, error) {
	return nextLeadEvent(ctx, g.events, limit, g.name)
}

// nextLeadEvent waits up to limit for the next term on events; what names
// the group in the error.
func nextLeadEvent(ctx context.Context, events <-chan leadEvent, limit time.Duration, what string) (leadEvent, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case ev := <-events:
		return ev, nil
	case <-t.C:
		return leadEvent{}, fmt.Errorf("%s: no new leader within %v", what, limit)
	case <-ctx.Done():
		return leadEvent{}, ctx.Err()
	}
}

// waitersReady waits until every candidate but the leader is subscribed to
// the release channel, i.e. waiting.
func (g *batonGroup) waitersReady(ctx context.Context) error {
	return g.e.waitNumSub(ctx, g.channel, int64(len(g.cands)-1), 3*g.ttl+5*time.Second)
}

// resignHoldOff keeps a resigned leader out long enough that a waiter, not
// the leader itself, takes the lock.
const resignHoldOff = 10 * time.Millisecond

// handovers makes n graceful handovers (Resign on the leader) and returns
// each latency: from just before Resign to the next term's
// OnStartedLeading. rewon counts the handovers the resigner won back.
func (g *batonGroup) handovers(ctx context.Context, n int) (lat []time.Duration, rewon int, err error) {
	ev, err := g.next(ctx, 3*g.ttl+5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	leader := ev.who
	for range n {
		if err := g.waitersReady(ctx); err != nil {
			return lat, rewon, err
		}
		if err := g.e.pause(ctx, time.Millisecond); err != nil {
			return lat, rewon, err
		}
		t0 := time.Now()
		if _, err := g.cands[leader].el.Resign(ctx, resignHoldOff); err != nil {
			return lat, rewon, err
		}
		ev, err := g.next(ctx, 5*time.Second)
		if err != nil {
			return lat, rewon, err
		}
		if ev.who == leader {
			rewon++
			continue
		}
		lat = append(lat, ev.at.Sub(t0))
		leader = ev.who
	}
	return lat, rewon, nil
}

// close stops every candidate (a leader releases) and closes the clients.
func (g *batonGroup) close() {
	for _, c := range g.cands {
		if c.cancel != nil {
			c.cancel()
			<-c.done
		}
	}
	for _, c := range g.cands {
		if c.client != nil {
			_ = c.client.Close()
		}
	}
}

// crash stops candidate who as a killed process would stop: no more
// renewals and no release. It returns the send time of the last renewal
// (or acquire) that may have reached Redis.
func (g *batonGroup) crash(who int) (lastRenew time.Time, err error) {
	c := g.cands[who]
	last, err := c.locker.freeze()
	c.cancel()
	<-c.done
	return last, err
}

// freezeLocker wraps the Redis locker so that a candidate can be "crashed"
// in process: once frozen, renewals never reach Redis and release does
// nothing, exactly as when the process is killed.
type freezeLocker struct {
	inner election.Locker

	mu        sync.Mutex
	frozen    bool
	inflight  sync.WaitGroup
	lastRenew time.Time // send time of the last acquire or renew that succeeded
}

var errFrozen = errors.New("bench: candidate crashed")

func (f *freezeLocker) Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(election.Holder)) (election.Lease, error) {
	l, err := f.inner.Acquire(ctx, identity, ttl, onHeld)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.lastRenew = l.SentAt()
	f.mu.Unlock()
	return &freezeLease{Lease: l, f: f}, nil
}

// freeze stops all further renewals, waits for one in flight, and returns
// the send time of the last successful acquire or renew.
func (f *freezeLocker) freeze() (time.Time, error) {
	f.mu.Lock()
	f.frozen = true
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return time.Time{}, errors.New("bench: a renewal stayed in flight for 5s")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastRenew, nil
}

type freezeLease struct {
	election.Lease
	f *freezeLocker
}

func (l *freezeLease) Renew(ctx context.Context) error {
	f := l.f
	f.mu.Lock()
	if f.frozen {
		f.mu.Unlock()
		<-ctx.Done() // a dead process never answers
		return errFrozen
	}
	f.inflight.Add(1)
	f.mu.Unlock()
	defer f.inflight.Done()
	sent := time.Now()
	err := l.Lease.Renew(ctx)
	if err == nil {
		f.mu.Lock()
		if sent.After(f.lastRenew) {
			f.lastRenew = sent
		}
		f.mu.Unlock()
	}
	return err
}

func (l *freezeLease) Release(ctx context.Context) error {
	f := l.f
	f.mu.Lock()
	frozen := f.frozen
	f.mu.Unlock()
	if frozen {
		return errFrozen
	}
	return l.Lease.Release(ctx)
}
