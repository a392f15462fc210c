package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
)

// runIdleCost counts what a lock costs its store when nothing happens: a
// leader alone for one window, then the leader and N idle waiters for
// another. Redis-side counts come from INFO commandstats deltas (commands
// run inside Lua scripts count too); client-side counts from a hook on each
// candidate's client (an EVALSHA is one request).
func runIdleCost(ctx context.Context, e *env, res *Results) error {
	cfg := e.cfg
	ttl := cfg.ttl
	runs := []struct {
		id  string
		run func(context.Context) (*IdleCost, error)
	}{
		{idBaton, func(ctx context.Context) (*IdleCost, error) { return batonIdle(ctx, e) }},
		{idBsm, func(ctx context.Context) (*IdleCost, error) {
			t := newBsmTool(e, "idle", cfg.idleN+1, ttl, cfg.bsmBackoff)
			defer t.close()
			return pollingIdle(ctx, e, t, []string{"evalsha", "eval"})
		}},
		{idRedsync, func(ctx context.Context) (*IdleCost, error) {
			t := newRedsyncTool(e, "idle", cfg.idleN+1, ttl)
			defer t.close()
			return pollingIdle(ctx, e, t, []string{"set"})
		}},
	}
	if e.kube != nil {
		runs = append(runs,
			struct {
				id  string
				run func(context.Context) (*IdleCost, error)
			}{idKubeTTL, func(ctx context.Context) (*IdleCost, error) { return kubeIdle(ctx, e, scaledKube(ttl)) }},
			struct {
				id  string
				run func(context.Context) (*IdleCost, error)
			}{idKube15, func(ctx context.Context) (*IdleCost, error) { return kubeIdle(ctx, e, usualKube) }},
		)
	}
	for _, r := range runs {
		c, err := r.run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", r.id, err)
		}
		c.Tool = r.id
		c.Waiters = cfg.idleN
		c.WindowSeconds = cfg.idleWindow.Seconds()
		res.Idle = append(res.Idle, c)
		e.log.Info("idle cost", "tool", r.id, "waiter_cmds_per_s", c.WaiterStoreCmdsPerSec,
			"waiter_attempts_per_ttl", c.WaiterAttemptsPerTTL, "leader_cmds_per_min", c.LeaderStoreCmdsPerMin)
	}
	return nil
}

// window counts Redis commands, server side and client side, over a
// window of length w.
func (e *env) window(ctx context.Context, counters []*cmdCounter, w time.Duration) (server map[string]int64, client map[string]int64, d time.Duration, err error) {
	before, err := redistest.CommandCalls(ctx, e.admin)
	if err != nil {
		return nil, nil, 0, err
	}
	cb := make([]map[string]int64, len(counters))
	for i, c := range counters {
		cb[i] = c.snapshot()
	}
	t0 := time.Now()
	if err := sleep(ctx, w); err != nil {
		return nil, nil, 0, err
	}
	after, err := redistest.CommandCalls(ctx, e.admin)
	d = time.Since(t0)
	if err != nil {
		return nil, nil, 0, err
	}
	client = map[string]int64{}
	for i, c := range counters {
		for k, v := range c.snapshot() {
			if dv := v - cb[i][k]; dv != 0 {
				client[k] += dv
			}
		}
	}
	return statsDelta(before, after), client, d, nil
}

// fill computes the rates of an IdleCost from its two windows.
func fillIdle(c *IdleCost, ttl time.Duration, n int, attemptCmds []string,
	leaderServer, leaderClient map[string]int64, dl time.Duration,
	bothServer, waiterClient map[string]int64, dw time.Duration) {
	c.TTL = ttl.String()
	c.LeaderStoreCmdsPerMin = float64(sum(leaderServer)) / dl.Minutes()
	c.LeaderRequestsPerMin = float64(sum(leaderClient)) / dl.Minutes()
	leaderRate := float64(sum(leaderServer)) / dl.Seconds()
	c.WaiterStoreCmdsPerSec = (float64(sum(bothServer))/dw.Seconds() - leaderRate) / float64(n)
	c.WaiterRequestsPerSec = float64(sum(waiterClient)) / dw.Seconds() / float64(n)
	var attempts int64
	for _, name := range attemptCmds {
		attempts += waiterClient[name]
	}
	c.WaiterAttemptsPerTTL = float64(attempts) / float64(n) / (dw.Seconds() / ttl.Seconds())
	c.LeaderCommands = leaderServer
	c.WaiterCommands = waiterClient
	c.BothCommands = bothServer
}

func batonIdle(ctx context.Context, e *env) (*IdleCost, error) {
	ttl, n := e.cfg.ttl, e.cfg.idleN
	g, err := newBatonGroup(ctx, e, "idle", 1, ttl)
	if err != nil {
		return nil, err
	}
	defer g.close()
	if _, err := g.next(ctx, 3*ttl+5*time.Second); err != nil {
		return nil, err
	}
	ls, lc, dl, err := e.window(ctx, []*cmdCounter{g.cands[0].counter}, e.cfg.idleWindow)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= n; i++ {
		c := &batonCand{who: i}
		g.cands = append(g.cands, c)
		if err := g.start(ctx, c); err != nil {
			return nil, err
		}
	}
	if err := g.waitersReady(ctx); err != nil {
		return nil, err
	}
	var wcs []*cmdCounter
	for _, c := range g.cands[1:] {
		wcs = append(wcs, c.counter)
	}
	bs, wc, dw, err := e.window(ctx, wcs, e.cfg.idleWindow)
	if err != nil {
		return nil, err
	}
	c := &IdleCost{Store: "redis"}
	fillIdle(c, ttl, n, []string{"evalsha", "eval"}, ls, lc, dl, bs, wc, dw)
	return c, nil
}

// pollingIdle runs candidate 0 of tool as a leader refreshed every TTL/3
// and candidates 1..N as waiters.
func pollingIdle(ctx context.Context, e *env, tool lockTool, attemptCmds []string) (*IdleCost, error) {
	ttl, n := e.cfg.ttl, e.cfg.idleN
	h, _, err := tool.acquire(ctx, 0)
	if err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
		_ = h.release(context.WithoutCancel(ctx))
	}()
	wg.Go(func() {
		for rctx.Err() == nil {
			_ = h.refresh(rctx)
			_ = sleep(rctx, ttl/3)
		}
	})
	ls, lc, dl, err := e.window(ctx, []*cmdCounter{tool.counter(0)}, e.cfg.idleWindow)
	if err != nil {
		return nil, err
	}
	var wcs []*cmdCounter
	for i := 1; i <= n; i++ {
		wcs = append(wcs, tool.counter(i))
		wg.Go(func() {
			if h, _, err := tool.acquire(rctx, i); err == nil {
				_ = h.release(context.WithoutCancel(rctx))
			}
		})
	}
	// Let every waiter make its first try before the window opens.
	if err := sleep(ctx, 300*time.Millisecond); err != nil {
		return nil, err
	}
	bs, wc, dw, err := e.window(ctx, wcs, e.cfg.idleWindow)
	if err != nil {
		return nil, err
	}
	c := &IdleCost{Store: "redis"}
	fillIdle(c, ttl, n, attemptCmds, ls, lc, dl, bs, wc, dw)
	return c, nil
}

// kubeIdle does the same for client-go, whose store is the kube-apiserver:
// requests are counted by each candidate's transport, and a lock attempt is
// a GET of the Lease.
func kubeIdle(ctx context.Context, e *env, t kubeTimings) (*IdleCost, error) {
	n := e.cfg.idleN
	g, err := newKubeGroup(ctx, e.kube, "idle-"+strings.ReplaceAll(strings.ToLower(t.lease.String()), ".", "-"), 1, t, true)
	if err != nil {
		return nil, err
	}
	defer g.close()
	if _, err := g.next(ctx, g.limit()); err != nil {
		return nil, err
	}
	l0, lw0 := g.cands[0].rec.count(), g.cands[0].rec.writeCount()
	t0 := time.Now()
	if err := sleep(ctx, e.cfg.idleWindow); err != nil {
		return nil, err
	}
	dl := time.Since(t0)
	leaderReqs := g.cands[0].rec.count() - l0
	leaderWrites := g.cands[0].rec.writeCount() - lw0
	for i := 1; i <= n; i++ {
		c := &kubeCand{who: i}
		g.cands = append(g.cands, c)
		if err := g.start(ctx, c); err != nil {
			return nil, err
		}
	}
	if err := sleep(ctx, 300*time.Millisecond); err != nil {
		return nil, err
	}
	var w0 int64
	for _, c := range g.cands[1:] {
		w0 += c.rec.count()
	}
	t1 := time.Now()
	if err := sleep(ctx, e.cfg.idleWindow); err != nil {
		return nil, err
	}
	dw := time.Since(t1)
	var w1 int64
	for _, c := range g.cands[1:] {
		w1 += c.rec.count()
	}
	perWaiter := float64(w1-w0) / float64(n)
	return &IdleCost{
		Store:                 "kube-apiserver",
		TTL:                   t.lease.String(),
		Timings:               t.String(),
		LeaderStoreCmdsPerMin: float64(leaderReqs) / dl.Minutes(),
		LeaderRequestsPerMin:  float64(leaderReqs) / dl.Minutes(),
		LeaderWritesPerMin:    float64(leaderWrites) / dl.Minutes(),
		WaiterStoreCmdsPerSec: perWaiter / dw.Seconds(),
		WaiterRequestsPerSec:  perWaiter / dw.Seconds(),
		WaiterAttemptsPerTTL:  perWaiter / (dw.Seconds() / t.lease.Seconds()),
	}, nil
}
