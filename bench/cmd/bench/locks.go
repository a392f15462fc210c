package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/bench/internal/procstat"
	"github.com/baton-dev/baton/bench/internal/stats"
)

// runLocks measures the application locks side by side, in one run:
// uncontended acquire+release throughput, contended hand-off latency and
// its Redis commands, and fairness. It prints the table of targets on
// stdout.
func runLocks(ctx context.Context, e *env, res *Results) error {
	lc := e.cfg.locks
	l := &LocksResult{Hold: lc.hold.String(), FairSeconds: lc.fairDuration.Seconds(), BsmBackoff: e.cfg.bsmBackoff.String(), LoadAvgBeg: procstat.LoadAvg()}
	if err := locksUncontended(ctx, e, l); err != nil {
		return fmt.Errorf("uncontended: %w", err)
	}
	if err := locksHandoffs(ctx, e, l); err != nil {
		return fmt.Errorf("contended hand-off: %w", err)
	}
	if err := locksFairness(ctx, e, l); err != nil {
		return fmt.Errorf("fairness: %w", err)
	}
	l.LoadAvgEnd = procstat.LoadAvg()
	res.Locks = l
	fmt.Printf("\nbaton application locks (redis %s, %d CPUs, load %s at the start, %s at the end)\n\n%s",
		res.Meta.RedisVersion, res.Meta.CPUs, l.LoadAvgBeg, l.LoadAvgEnd, targetTable(l.targets()))
	return nil
}

// opsTool makes the tool of client i in the uncontended runs: its own
// client, on its own name.
type opsTool struct {
	id   string
	make func(i int) (lockTool, error)
	// sidecar is the pid of the sidecar process the tool goes through, 0
	// for none.
	sidecar int
}

// locksUncontended measures acquire+release throughput of every tool at
// every client count, in interleaved rounds whose order rotates.
func locksUncontended(ctx context.Context, e *env, l *LocksResult) error {
	lc := e.cfg.locks
	name := func(id string, i int) string { return fmt.Sprintf("ops-%s-%d", id, i) }
	baton := func(id string, mode batonLockMode) opsTool {
		return opsTool{id: id, make: func(i int) (lockTool, error) { return newBatonLockTool(e, name(id, i), 1, mode) }}
	}
	tools := []opsTool{
		{id: idLockFloor, make: func(i int) (lockTool, error) { return newSetFloorTool(e, name(idLockFloor, i), 1), nil }},
		baton(idLockLease, modeLease),
		baton(idLockWatchdog, modeWatchdog),
		baton(idLockFair, modeFair),
		{id: idBsm, make: func(i int) (lockTool, error) {
			return newBsmTool(e, name(idBsm, i), 1, appLockLease, e.cfg.bsmBackoff), nil
		}},
		{id: idRedsync, make: func(i int) (lockTool, error) { return newRedsyncTool(e, name(idRedsync, i), 1, 0), nil }},
	}
	// The sidecar's rows need its binary (the smoke test has none).
	if e.bin != "" {
		httpc := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}
		defer httpc.CloseIdleConnections()
		sc, err := e.launchSidecar(ctx, "bench-locks-sidecar", "bench-locks-sidecar", httpc)
		if sc != nil {
			defer sc.Stop(5 * time.Second)
		}
		if err != nil {
			return fmt.Errorf("sidecar: %w", err)
		}
		hf, err := startHTTPFloor(ctx)
		if err != nil {
			return err
		}
		defer hf.Stop()
		tools = slices.Insert(tools, 4,
			opsTool{id: idLockSidecar, make: func(i int) (lockTool, error) {
				return newSidecarLockTool(sc.APIURL, name(idLockSidecar, i), httpc), nil
			}, sidecar: sc.PID()},
			// The same HTTP client against a server that does nothing: the
			// part of the sidecar's figure that HTTP itself costs here.
			opsTool{id: idLockHTTPFloor, make: func(i int) (lockTool, error) {
				return newSidecarLockTool(hf.URL, name(idLockHTTPFloor, i), httpc), nil
			}, sidecar: hf.PID()})
	}
	type cell struct {
		t opsTool
		n int
	}
	var cells []cell
	for _, n := range lc.opClients {
		for _, t := range tools {
			cells = append(cells, cell{t, n})
		}
	}
	type key struct {
		id string
		n  int
	}
	rows := map[key]*LockOps{}
	per := lc.opDuration / time.Duration(lc.opRounds)
	for r := range lc.opRounds {
		for i := range cells {
			c := cells[(i+r)%len(cells)]
			pids := map[string]int{"bench": os.Getpid(), "redis": e.redis.PID()}
			if c.t.sidecar != 0 {
				pids["sidecar"] = c.t.sidecar
			}
			ops, d, cpu, err := uncontended(ctx, c.t, c.n, per, pids)
			if err != nil {
				return fmt.Errorf("%s, %d clients: %w", c.t.id, c.n, err)
			}
			row := rows[key{c.t.id, c.n}]
			if row == nil {
				row = &LockOps{Tool: c.t.id, Label: lockLabel(c.t.id, l), Clients: c.n}
				rows[key{c.t.id, c.n}] = row
				l.Ops = append(l.Ops, row)
			}
			row.Ops += ops
			row.Seconds += d.Seconds()
			if row.CPUSeconds == nil {
				row.CPUSeconds = map[string]float64{}
			}
			for k, v := range cpu {
				row.CPUSeconds[k] += v.Seconds()
			}
			row.RoundRates = append(row.RoundRates, stats.PerSecond(float64(ops), d))
			row.PerSec = stats.PerSecond(float64(row.Ops), time.Duration(row.Seconds*float64(time.Second)))
		}
		e.log.Info("locks: uncontended round done", "round", r+1, "of", lc.opRounds)
	}
	for _, row := range l.Ops {
		e.log.Info("locks: uncontended", "tool", row.Tool, "clients", row.Clients, "ops_per_s", int(row.PerSec))
	}
	return nil
}

// uncontended runs n clients of t, each on its own name, acquiring and
// releasing as fast as they can for d, and counts the pairs and the CPU
// time that each process of pids spent meanwhile.
func uncontended(ctx context.Context, t opsTool, n int, d time.Duration, pids map[string]int) (int64, time.Duration, map[string]time.Duration, error) {
	tools := make([]lockTool, 0, n)
	defer func() {
		for _, x := range tools {
			x.close()
		}
	}()
	for i := range n {
		x, err := t.make(i)
		if err != nil {
			return 0, 0, nil, err
		}
		tools = append(tools, x)
		// One pair first: the connection is up, the scripts are loaded.
		if err := acquireRelease(ctx, x); err != nil {
			return 0, 0, nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	var (
		ops      atomic.Int64
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	cpu0, err := cpuTimes(pids)
	if err != nil {
		return 0, 0, nil, err
	}
	start := time.Now()
	deadline := start.Add(d)
	for _, x := range tools {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := acquireRelease(ctx, x); err != nil {
					errMu.Lock()
					firstErr = err
					errMu.Unlock()
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return 0, 0, nil, firstErr
	}
	cpu, err := cpuTimes(pids)
	if err != nil {
		return 0, 0, nil, err
	}
	for k := range cpu {
		cpu[k] -= cpu0[k]
	}
	return ops.Load(), el, cpu, ctx.Err()
}

// cpuTimes reads the CPU time (utime+stime) of each process.
func cpuTimes(pids map[string]int) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for k, pid := range pids {
		c, err := procstat.CPUTime(pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = c
	}
	return out, nil
}

func acquireRelease(ctx context.Context, t lockTool) error {
	h, _, err := t.acquire(ctx, 0)
	if err != nil {
		return err
	}
	return h.release(ctx)
}

// contendedTool makes a tool of n candidates on one name.
type contendedTool struct {
	id   string
	make func(name string, n int) (stampedTool, error)
}

func (e *env) batonContended(id string, mode batonLockMode) contendedTool {
	return contendedTool{id, func(name string, n int) (stampedTool, error) { return newBatonLockTool(e, name, n, mode) }}
}

func (e *env) bsmContended() contendedTool {
	return contendedTool{idBsm, func(name string, n int) (stampedTool, error) {
		return newBsmTool(e, name, n, pollingLockTTL, e.cfg.bsmBackoff), nil
	}}
}

func (e *env) redsyncContended() contendedTool {
	return contendedTool{idRedsync, func(name string, n int) (stampedTool, error) { return newRedsyncTool(e, name, n, 0), nil }}
}

// locksHandoffs measures the contended hand-off, release → the next
// holder's acquire, and the Redis commands per hand-off, at each client
// count on one name: every release hands off to a waiter.
func locksHandoffs(ctx context.Context, e *env, l *LocksResult) error {
	lc := e.cfg.locks
	tools := []contendedTool{
		e.batonContended(idLockLease, modeLease),
		e.batonContended(idLockFair, modeFair),
		{idFloor, func(name string, n int) (stampedTool, error) { return newFloorTool(e, name, n, pollingLockTTL), nil }},
		e.bsmContended(),
		e.redsyncContended(),
	}
	for _, n := range lc.handoffClients {
		for _, t := range tools {
			run, err := contended(ctx, e, t, fmt.Sprintf("handoff-%s-%d", t.id, n), contendedOpts{
				clients: n, handoffs: lc.handoffs, limit: lc.handoffLimit, hold: lc.hold, waitNext: true,
			})
			if err != nil {
				return fmt.Errorf("%s, %d clients: %w", t.id, n, err)
			}
			h := &LockHandoff{
				Tool: t.id, Label: lockLabel(t.id, l), Clients: n, Latency: stats.Summarize(run.handoffs),
				Seconds: run.d.Seconds(), Overlaps: run.overlaps, ServerCmds: run.server, ClientCmds: run.client,
			}
			h.ReleaseCall = stats.Summarize(run.releaseCalls)
			hn := float64(len(run.handoffs))
			h.ServerPerHandoff = float64(sum(run.server)) / hn
			h.ClientPerHandoff = float64(sum(run.client)) / hn
			l.Handoff = append(l.Handoff, h)
			e.log.Info("locks: hand-off", "tool", t.id, "clients", n, "n", h.Latency.N, "p50", h.Latency.P50, "p99", h.Latency.P99,
				"redis_cmds_per_handoff", int(h.ServerPerHandoff))
		}
	}
	return nil
}

// locksFairness runs each tool's clients for the fairness duration, each
// asking again as soon as it has released, and counts their acquisitions
// and the grants that broke arrival order.
func locksFairness(ctx context.Context, e *env, l *LocksResult) error {
	lc := e.cfg.locks
	tools := []contendedTool{
		e.batonContended(idLockFair, modeFair),
		e.batonContended(idLockLease, modeLease),
		e.redsyncContended(),
		e.bsmContended(),
	}
	for _, t := range tools {
		n := lc.fairClients
		run, err := contended(ctx, e, t, "fairness-"+t.id, contendedOpts{clients: n, limit: lc.fairDuration, hold: lc.hold})
		if err != nil {
			return fmt.Errorf("%s: %w", t.id, err)
		}
		f := &LockFairness{Tool: t.id, Label: lockLabel(t.id, l), Clients: n, Seconds: run.d.Seconds(), Grants: len(run.grants),
			Overlaps: run.overlaps, PerClient: make([]int, n), Handoff: stats.Summarize(run.handoffs)}
		for _, g := range run.grants {
			f.PerClient[g.who]++
		}
		f.Min, f.Max = slices.Min(f.PerClient), slices.Max(f.PerClient)
		f.Jain = jain(f.PerClient)
		f.Violations = orderViolations(run.grants, run.pending)
		l.Fairness = append(l.Fairness, f)
		e.log.Info("locks: fairness", "tool", t.id, "grants", f.Grants, "min", f.Min, "max", f.Max, "jain", f.Jain, "violations", f.Violations)
	}
	return nil
}

// contended builds t's candidates on name and runs them.
func contended(ctx context.Context, e *env, t contendedTool, name string, o contendedOpts) (*contendedRun, error) {
	tool, err := t.make(name, o.clients)
	if err != nil {
		return nil, err
	}
	defer tool.close()
	return runContended(ctx, e, tool, o)
}
