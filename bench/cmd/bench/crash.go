package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// crashTool is one tool in the interleaved crash-failover rounds.
type crashTool struct {
	id  string
	n   int
	run func(ctx context.Context, k int) (failover, overshoot []time.Duration, err error)
}

// runCrashes measures crash failover at the bench TTL: the leader stops
// renewing without releasing, at a random moment of its renewal cycle; the
// failover time runs from the crash to the waiter's takeover, and the
// overshoot from the moment the lease expired (last renewal sent + TTL) to
// the takeover.
func runCrashes(ctx context.Context, e *env, res *Results) error {
	cfg := e.cfg
	ttl := cfg.ttl
	pair, err := startSidecarPair(ctx, e, "bench-crash", "--lease-ttl", ttl.String())
	if err != nil {
		return err
	}
	defer pair.close()
	tools := []crashTool{
		{idBaton, cfg.crashes, func(ctx context.Context, k int) ([]time.Duration, []time.Duration, error) {
			return batonCrashes(ctx, e, k)
		}},
		{idSidecar, cfg.crashes, func(ctx context.Context, k int) (fo, ov []time.Duration, err error) {
			for range k {
				c, err := pair.crash(ctx, ttl)
				if err != nil {
					return fo, ov, err
				}
				fo, ov = append(fo, c.failover), append(ov, c.overshoot)
			}
			return fo, ov, nil
		}},
		{idBsm, cfg.crashes, func(ctx context.Context, k int) ([]time.Duration, []time.Duration, error) {
			t := newBsmTool(e, "crash", 2, ttl, cfg.bsmBackoff)
			defer t.close()
			return pollingCrashes(ctx, e, t, ttl, k)
		}},
		{idRedsync, cfg.crashes, func(ctx context.Context, k int) ([]time.Duration, []time.Duration, error) {
			t := newRedsyncTool(e, "crash", 2, ttl)
			defer t.close()
			return pollingCrashes(ctx, e, t, ttl, k)
		}},
	}
	if e.kube != nil {
		tools = append(tools, crashTool{idKubeTTL, cfg.crashes, func(ctx context.Context, k int) ([]time.Duration, []time.Duration, error) {
			g, err := newKubeGroup(ctx, e.kube, "crash-fast", 2, scaledKube(ttl), false)
			if err != nil {
				return nil, nil, err
			}
			defer g.close()
			return g.crashes(ctx, e, k)
		}})
	}
	for r := range cfg.rounds {
		for i := range tools {
			t := tools[(i+r)%len(tools)]
			k := share(t.n, cfg.rounds, r)
			if k == 0 {
				continue
			}
			fo, ov, err := t.run(ctx, k)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", t.id, r+1, err)
			}
			res.crash(t.id, ttl).add(fo, ov)
		}
	}
	return nil
}

// batonCrashes crashes baton library candidates: the leader's renewals and
// release stop reaching Redis (as when its process is killed) and its
// elector is stopped; the waiter's OnStartedLeading ends the failover.
func batonCrashes(ctx context.Context, e *env, k int) (fo, ov []time.Duration, err error) {
	ttl := e.cfg.ttl
	g, err := newBatonGroup(ctx, e, "crash", 2, ttl)
	if err != nil {
		return nil, nil, err
	}
	defer g.close()
	ev, err := g.next(ctx, 3*ttl+5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	leader := ev.who
	for range k {
		if err := g.waitersReady(ctx); err != nil {
			return fo, ov, err
		}
		if err := e.pause(ctx, ttl); err != nil {
			return fo, ov, err
		}
		tCrash := time.Now()
		last, err := g.crash(leader)
		if err != nil {
			return fo, ov, err
		}
		ev, err := g.next(ctx, 3*ttl+5*time.Second)
		if err != nil {
			return fo, ov, err
		}
		if ev.who == leader {
			return fo, ov, fmt.Errorf("crashed candidate %d led again", leader)
		}
		fo = append(fo, ev.at.Sub(tCrash))
		ov = append(ov, ev.at.Sub(last.Add(ttl)))
		if err := g.start(ctx, g.cands[leader]); err != nil {
			return fo, ov, err
		}
		leader = ev.who
	}
	return fo, ov, nil
}

// pollingCrashes crashes a polling peer's holder: the bench's refresh
// loop (every TTL/3, as baton renews) stops, and nothing is released.
func pollingCrashes(ctx context.Context, e *env, tool lockTool, ttl time.Duration, k int) (fo, ov []time.Duration, err error) {
	h, _, err := tool.acquire(ctx, 0)
	if err != nil {
		return nil, nil, err
	}
	holder := 0
	defer func() { _ = h.release(context.WithoutCancel(ctx)) }()
	for range k {
		waiter := 1 - holder
		rctx, stopRefresh := context.WithCancel(ctx)
		var (
			mu   sync.Mutex
			last time.Time
			wg   sync.WaitGroup
		)
		wg.Go(func() {
			for rctx.Err() == nil {
				sent := time.Now()
				if err := h.refresh(rctx); err == nil {
					mu.Lock()
					last = sent
					mu.Unlock()
				}
				_ = sleep(rctx, ttl/3)
			}
		})
		wctx, cancel := context.WithTimeout(ctx, 3*ttl+10*time.Second)
		done, err := startWaiter(wctx, e, tool, waiter)
		if err == nil {
			err = e.pause(ctx, ttl)
		}
		if err != nil {
			stopRefresh()
			wg.Wait()
			cancel()
			return fo, ov, err
		}
		tCrash := time.Now()
		stopRefresh()
		wg.Wait()
		mu.Lock()
		expiry := last.Add(ttl)
		mu.Unlock()
		r := <-done
		cancel()
		if r.err != nil {
			return fo, ov, r.err
		}
		if last.IsZero() {
			return fo, ov, fmt.Errorf("no refresh succeeded before the crash")
		}
		fo = append(fo, r.at.Sub(tCrash))
		ov = append(ov, r.at.Sub(expiry))
		h, holder = r.h, waiter
	}
	return fo, ov, nil
}

// runKubeSlow runs client-go at its usual 15s/10s/2s timings: a few
// handovers and crash failovers, as many as fit in the time.
func runKubeSlow(ctx context.Context, e *env, res *Results) error {
	if e.kube == nil {
		return nil
	}
	if n := e.cfg.kubeSlow; n > 0 {
		g, err := newKubeGroup(ctx, e.kube, "handover-slow", 2, usualKube, true)
		if err != nil {
			return err
		}
		lat, err := g.handovers(ctx, e, n)
		g.close()
		if err != nil {
			return err
		}
		res.handover(idKube15).add(lat)
	}
	if n := e.cfg.crashSlow; n > 0 {
		g, err := newKubeGroup(ctx, e.kube, "crash-slow", 2, usualKube, false)
		if err != nil {
			return err
		}
		fo, ov, err := g.crashes(ctx, e, n)
		g.close()
		if err != nil {
			return err
		}
		res.crash(idKube15, usualKube.lease).add(fo, ov)
	}
	return nil
}
