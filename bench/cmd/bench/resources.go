package main

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-dev/baton/bench/internal/procstat"
	"github.com/baton-dev/baton/bench/internal/stats"
)

// procSample is a process's memory and CPU over a window.
type procSample struct {
	RSS     int64   `json:"rss_bytes"`
	HWM     int64   `json:"hwm_bytes"`
	CPUPct  float64 `json:"cpu_percent_of_one_core"`
	Window  float64 `json:"window_s"`
	CPUTime float64 `json:"cpu_s"`
}

// measureProc runs f (which may just sleep) and reports pid's CPU over it
// and its RSS at the end.
func measureProc(pid int, f func() error) (procSample, error) {
	c0, err := procstat.CPUTime(pid)
	if err != nil {
		return procSample{}, err
	}
	t0 := time.Now()
	if err := f(); err != nil {
		return procSample{}, err
	}
	el := time.Since(t0)
	c1, err := procstat.CPUTime(pid)
	if err != nil {
		return procSample{}, err
	}
	rss, hwm, err := procstat.RSS(pid)
	if err != nil {
		return procSample{}, err
	}
	cpu := c1 - c0
	return procSample{RSS: rss, HWM: hwm, CPUPct: 100 * cpu.Seconds() / el.Seconds(), Window: el.Seconds(), CPUTime: cpu.Seconds()}, nil
}

// runSidecarResources starts two sidecars with their default timings (15s
// TTL), measures both idle, then loads the leader's GET /leader.
func runSidecarResources(ctx context.Context, e *env, res *Results) error {
	p, err := startSidecarPair(ctx, e, "bench-resources")
	if err != nil {
		return err
	}
	defer p.close()
	// Let start-up allocations settle, as in a pod that has run a while.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	leader, follower := p.s[p.leader], p.s[1-p.leader]
	var fIdle procSample
	lIdle, err := measureProc(leader.PID(), func() error {
		var err error
		fIdle, err = measureProc(follower.PID(), func() error { return sleep(ctx, e.cfg.idleWindow) })
		return err
	})
	if err != nil {
		return err
	}
	var lr loadResult
	lLoad, err := measureProc(leader.PID(), func() error {
		var err error
		lr, err = loadTest(ctx, leader.APIAddr, "/leader", e.cfg.loadConns, e.cfg.loadDur)
		return err
	})
	if err != nil {
		return err
	}
	if lr.requests == 0 {
		return fmt.Errorf("load test: no request answered")
	}
	res.Sidecar = &SidecarResult{
		Flags:        "defaults (lease-ttl 15s, renew every 5s)",
		LeaderIdle:   lIdle,
		FollowerIdle: fIdle,
		LeaderLoad:   lLoad,
		Conns:        e.cfg.loadConns,
		LoadSeconds:  lr.elapsed.Seconds(),
		Requests:     lr.requests,
		BadStatus:    lr.errors,
		RPS:          stats.PerSecond(float64(lr.requests), lr.elapsed),
		Latency:      stats.Summarize(lr.lat),
	}
	e.log.Info("sidecar", "idle_rss_mib", float64(lIdle.RSS)/(1<<20), "idle_cpu_pct", lIdle.CPUPct,
		"rps", int(res.Sidecar.RPS), "p99", res.Sidecar.Latency.P99, "load_cpu_pct", lLoad.CPUPct)
	return nil
}
