package main

import (
	"context"
	"fmt"
	"time"
)

// pollingLockTTL is the lock TTL of the peers' graceful-handover runs:
// redsync's default expiry. A handover never waits for it; it only has to
// outlast the pauses between handovers.
const pollingLockTTL = 8 * time.Second

// waitFirstCommand waits until counter has counted more than before, then
// a little longer so that the command has reached Redis: the waiter has
// made its first try and is now waiting.
func waitFirstCommand(ctx context.Context, c *cmdCounter, before int64) error {
	deadline := time.Now().Add(10 * time.Second)
	for sum(c.snapshot()) <= before {
		if time.Now().After(deadline) {
			return fmt.Errorf("waiter sent no command in 10s")
		}
		if err := sleep(ctx, 200*time.Microsecond); err != nil {
			return err
		}
	}
	return sleep(ctx, time.Millisecond)
}

type acquired struct {
	h   held
	at  time.Time
	err error
}

// startWaiter starts candidate who's acquire in the background and
// returns once it is waiting.
func startWaiter(ctx context.Context, e *env, tool lockTool, who int) (<-chan acquired, error) {
	before := sum(tool.counter(who).snapshot())
	done := make(chan acquired, 1)
	go func() {
		h, at, err := tool.acquire(ctx, who)
		done <- acquired{h, at, err}
	}()
	if ch := tool.channel(); ch != "" {
		if err := e.waitNumSub(ctx, ch, 1, 10*time.Second); err != nil {
			return nil, err
		}
	}
	return done, waitFirstCommand(ctx, tool.counter(who), before)
}

// twoCandidates makes n graceful handovers between candidates 0 and 1 of
// tool: the holder releases, timed until the waiter's acquire succeeds;
// the old holder then becomes the waiter.
func twoCandidates(ctx context.Context, e *env, tool lockTool, n int) ([]time.Duration, error) {
	h, _, err := tool.acquire(ctx, 0)
	if err != nil {
		return nil, err
	}
	holder := 0
	var lat []time.Duration
	defer func() { _ = h.release(context.WithoutCancel(ctx)) }()
	for range n {
		waiter := 1 - holder
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		done, err := startWaiter(wctx, e, tool, waiter)
		if err == nil {
			err = e.pause(ctx, tool.maxPause())
		}
		if err != nil {
			cancel()
			return lat, err
		}
		t0 := time.Now()
		if err := h.release(ctx); err != nil {
			cancel()
			return lat, err
		}
		r := <-done
		cancel()
		if r.err != nil {
			return lat, r.err
		}
		lat = append(lat, r.at.Sub(t0))
		h, holder = r.h, waiter
	}
	return lat, nil
}

// handoverTool is one tool in the interleaved graceful-handover rounds.
type handoverTool struct {
	id  string
	n   int // handovers in all
	run func(ctx context.Context, k int) ([]time.Duration, error)
}

// runHandovers measures graceful handovers of every tool in interleaved
// rounds: each round runs a share of each tool's handovers, in an order
// that rotates from round to round.
func runHandovers(ctx context.Context, e *env, res *Results) error {
	cfg := e.cfg
	pair, err := startSidecarPair(ctx, e, "bench-handover", "--lease-ttl", cfg.ttl.String())
	if err != nil {
		return err
	}
	defer pair.close()
	tools := []handoverTool{
		{idBaton, cfg.handovers, func(ctx context.Context, k int) ([]time.Duration, error) {
			g, err := newBatonGroup(ctx, e, "handover", 2, cfg.ttl)
			if err != nil {
				return nil, err
			}
			defer g.close()
			lat, rewon, err := g.handovers(ctx, k)
			res.Rewon += rewon
			return lat, err
		}},
		{idSidecar, cfg.handovers, pair.handovers},
		{idFloor, cfg.handovers, func(ctx context.Context, k int) ([]time.Duration, error) {
			t := newFloorTool(e, "handover", 2, pollingLockTTL)
			defer t.close()
			return twoCandidates(ctx, e, t, k)
		}},
		{idBsm, cfg.handovers, func(ctx context.Context, k int) ([]time.Duration, error) {
			t := newBsmTool(e, "handover", 2, pollingLockTTL, cfg.bsmBackoff)
			defer t.close()
			return twoCandidates(ctx, e, t, k)
		}},
		{idRedsync, cfg.handovers, func(ctx context.Context, k int) ([]time.Duration, error) {
			t := newRedsyncTool(e, "handover", 2, 0)
			defer t.close()
			return twoCandidates(ctx, e, t, k)
		}},
	}
	if e.kube != nil {
		tools = append(tools, handoverTool{idKubeTTL, cfg.kubeFast, func(ctx context.Context, k int) ([]time.Duration, error) {
			g, err := newKubeGroup(ctx, e.kube, "handover-fast", 2, scaledKube(cfg.ttl), true)
			if err != nil {
				return nil, err
			}
			defer g.close()
			return g.handovers(ctx, e, k)
		}})
	}
	for r := range cfg.rounds {
		for i := range tools {
			t := tools[(i+r)%len(tools)]
			k := share(t.n, cfg.rounds, r)
			if k == 0 {
				continue
			}
			lat, err := t.run(ctx, k)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", t.id, r+1, err)
			}
			res.handover(t.id).add(lat)
		}
		e.log.Info("handover round done", "round", r+1, "of", cfg.rounds)
	}
	return nil
}

// share is round r's part of n spread over rounds.
func share(n, rounds, r int) int {
	k := n / rounds
	if r < n%rounds {
		k++
	}
	return k
}

// runWaiterScaling measures baton's graceful handover with 1, 10 and 100
// waiters, interleaved in rounds.
func runWaiterScaling(ctx context.Context, e *env, res *Results) error {
	cfg := e.cfg
	for r := range cfg.rounds {
		for i := range cfg.waiters {
			n := cfg.waiters[(i+r)%len(cfg.waiters)]
			k := share(cfg.scaleN, cfg.rounds, r)
			if k == 0 {
				continue
			}
			g, err := newBatonGroup(ctx, e, fmt.Sprintf("scale-%d", n), n+1, cfg.ttl)
			if err != nil {
				return err
			}
			lat, rewon, err := g.handovers(ctx, k)
			g.close()
			if err != nil {
				return fmt.Errorf("%d waiters: %w", n, err)
			}
			res.Rewon += rewon
			res.waiters(n).add(lat)
		}
	}
	return nil
}
