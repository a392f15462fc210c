package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/baton-dev/baton/bench/internal/procstat"
	"github.com/baton-dev/baton/bench/internal/stats"
	"github.com/baton-dev/baton/pkg/redislock"
)

// coreHandoverTTL is the lease TTL of the core handovers. A graceful
// handover never waits for it; it only has to be long enough that no lease
// expires between handovers on a busy machine.
const coreHandoverTTL = 2 * time.Second

// CoreResult holds baton's core figures, the step `make bench-core` runs on
// its own: the sidecar binary only, timed from its own log stamps where it
// can be.
type CoreResult struct {
	HandoverTTL string `json:"handover_ttl"`
	// ElectorGap is, per graceful handover, the old leader's "stopped
	// leading" log stamp to the new leader's "started leading" stamp, both
	// on CLOCK_MONOTONIC.
	ElectorGap stats.Summary `json:"elector_gap"`
	// APIHandover is POST /leader/release on the leader to the answer of
	// the follower's pending GET /leader?wait=.
	APIHandover stats.Summary `json:"api_handover"`
	CrashTTL    string        `json:"crash_ttl"`
	// Overshoot is, per SIGKILL of the leader, the new leader's "started
	// leading" stamp minus the lease's expiry: CLOCK_MONOTONIC right after
	// the kill plus the PTTL read then.
	Overshoot         stats.Summary `json:"overshoot"`
	IdleTTL           string        `json:"idle_ttl"`
	IdleWindowSeconds float64       `json:"idle_window_s"`
	// IdleAttemptsPerTTL and IdleAttemptsPerSec count one idle sidecar
	// follower's lock attempts: the scripts Redis ran minus the ones the
	// in-process holder sent.
	IdleAttemptsPerTTL float64 `json:"idle_attempts_per_ttl"`
	IdleAttemptsPerSec float64 `json:"idle_attempts_per_s"`
	// IdleOther are the commands other than scripts that the follower sent
	// over the wire (commands run inside scripts left out), and their rate.
	IdleOther       map[string]int64 `json:"idle_other_commands"`
	IdleOtherPerSec float64          `json:"idle_other_per_s"`
	// IdleRSS is the idle follower's VmRSS at the end of the window.
	IdleRSS int64 `json:"idle_rss_bytes"`
	// LoadAvgBeg and LoadAvgEnd bracket the step.
	LoadAvgBeg string `json:"loadavg_start"`
	LoadAvgEnd string `json:"loadavg_end"`
}

// runCore measures the core figures and prints their table on stdout.
func runCore(ctx context.Context, e *env, res *Results) error {
	cfg := e.cfg
	c := &CoreResult{
		HandoverTTL:       coreHandoverTTL.String(),
		CrashTTL:          cfg.coreCrashTTL.String(),
		IdleTTL:           cfg.coreIdleTTL.String(),
		IdleWindowSeconds: cfg.coreIdleWindow.Seconds(),
		LoadAvgBeg:        procstat.LoadAvg(),
	}
	if err := coreHandovers(ctx, e, c, cfg.coreHandovers); err != nil {
		return fmt.Errorf("graceful handovers: %w", err)
	}
	e.log.Info("core handovers done", "n", c.APIHandover.N)
	if err := coreCrashes(ctx, e, c, cfg.coreCrashes); err != nil {
		return fmt.Errorf("crash failovers: %w", err)
	}
	e.log.Info("core crashes done", "n", c.Overshoot.N)
	if err := coreIdle(ctx, e, c); err != nil {
		return fmt.Errorf("idle follower: %w", err)
	}
	c.LoadAvgEnd = procstat.LoadAvg()
	res.Core = c
	fmt.Printf("\nbaton core figures (redis %s, %d CPUs, load %s at the start, %s at the end)\n\n%s",
		res.Meta.RedisVersion, res.Meta.CPUs, c.LoadAvgBeg, c.LoadAvgEnd, coreTable(c))
	return nil
}

// coreHandovers ping-pongs leadership between two sidecars with POST
// /leader/release, timing each handover through the API and between the
// two electors' log stamps.
func coreHandovers(ctx context.Context, e *env, c *CoreResult, n int) error {
	pair, err := startSidecarPair(ctx, e, "core-handover", "--lease-ttl", coreHandoverTTL.String())
	if err != nil {
		return err
	}
	lat, err := pair.handovers(ctx, n)
	// Stopping the pair closes the last term in the logs.
	pair.close()
	if err != nil {
		return err
	}
	gaps, err := handoverGaps(pair.s[0].LogPath, pair.s[1].LogPath)
	if err != nil {
		return err
	}
	c.APIHandover, c.ElectorGap = stats.Summarize(lat), stats.Summarize(gaps)
	return nil
}

// coreCrashes kills the leader of a sidecar pair n times and times the
// waiter's "started leading" stamp against the lease's expiry.
func coreCrashes(ctx context.Context, e *env, c *CoreResult, n int) error {
	ttl := e.cfg.coreCrashTTL
	pair, err := startSidecarPair(ctx, e, "core-crash", "--lease-ttl", ttl.String())
	if err != nil {
		return err
	}
	defer pair.close()
	var over []time.Duration
	for range n {
		cr, err := pair.crash(ctx, ttl)
		if err != nil {
			return err
		}
		started, err := startAfter(ctx, cr.leader.LogPath, cr.killMono)
		if err != nil {
			return err
		}
		over = append(over, time.Duration(started-cr.expiryMono))
	}
	c.Overshoot = stats.Summarize(over)
	return nil
}

// coreIdle holds the lock in this process, renewing at TTL/3 as a sidecar
// would, and counts what one idle sidecar follower sends to Redis.
func coreIdle(ctx context.Context, e *env, c *CoreResult) error {
	ttl := e.cfg.coreIdleTTL
	const name = "core-idle"
	counter := newCmdCounter()
	client := e.newClient(counter)
	defer client.Close()
	lock, err := redislock.New(client, name, redislock.Options{})
	if err != nil {
		return err
	}
	// A lock Redis has never seen is quarantined for one TTL before its
	// first term (the election's unknown-store rule): wait it out.
	actx, cancel := context.WithTimeout(ctx, ttl+5*time.Second)
	lease, err := lock.Acquire(actx, "holder", ttl, nil)
	cancel()
	if err != nil {
		return err
	}
	// The holder renews until the window is over; renewErr is its first
	// failure, read once renewDone is closed.
	rctx, stopRenew := context.WithCancel(ctx)
	renewDone := make(chan struct{})
	var renewErr error
	go func() {
		defer close(renewDone)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if err := lease.Renew(rctx); err != nil && rctx.Err() == nil {
					renewErr = err
					return
				}
			}
		}
	}()
	defer func() {
		stopRenew()
		<-renewDone
		_ = lease.Release(context.WithoutCancel(ctx))
	}()
	f, err := e.launchSidecar(ctx, name, name, nil, "--lease-ttl", ttl.String())
	if f != nil {
		defer f.Stop(5 * time.Second)
	}
	if err != nil {
		return err
	}
	if err := sleep(ctx, ttl); err != nil { // settle into the steady state
		return err
	}
	server, sent, d, err := e.window(ctx, []*cmdCounter{counter}, e.cfg.coreIdleWindow)
	if err != nil {
		return err
	}
	select {
	case <-renewDone:
		if renewErr != nil {
			return fmt.Errorf("holder's renewal: %w", renewErr)
		}
		return ctx.Err()
	default:
	}
	// The follower's lock attempts are the scripts Redis ran that the
	// holder did not send.
	scripts := []string{"evalsha", "eval"}
	var attempts int64
	for _, s := range scripts {
		attempts += server[s] - sent[s]
	}
	c.IdleAttemptsPerSec = float64(attempts) / d.Seconds()
	c.IdleAttemptsPerTTL = float64(attempts) / (d.Seconds() / ttl.Seconds())
	c.IdleOther = map[string]int64{}
	var other int64
	for cmd, v := range server {
		if v > 0 && !slices.Contains(scripts, cmd) && !inScripts[cmd] {
			c.IdleOther[cmd] = v
			other += v
		}
	}
	c.IdleOtherPerSec = float64(other) / d.Seconds()
	c.IdleRSS, _, err = procstat.RSS(f.PID())
	return err
}

// inScripts are the commands that baton's Lua scripts call. Redis counts
// them in commandstats as well as the script, but they never cross the
// wire, so they are no client's load.
var inScripts = map[string]bool{"type": true, "hmget": true, "pttl": true, "pexpire": true, "get": true,
	"set": true, "time": true, "hset": true, "del": true, "publish": true}

// transition is a "started leading" or "stopped leading" log stamp.
type transition struct {
	started bool
	mono    int64
}

// readTransitions reads the transitions in a sidecar's JSON log.
func readTransitions(path string) ([]transition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []transition
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Mono int64  `json:"mono_ns"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Mono == 0 {
			continue
		}
		switch line.Msg {
		case "started leading":
			out = append(out, transition{true, line.Mono})
		case "stopped leading":
			out = append(out, transition{false, line.Mono})
		}
	}
	return out, sc.Err()
}

// handoverGaps pairs each "stopped leading" with the "started leading"
// that comes next on CLOCK_MONOTONIC, over all the logs.
func handoverGaps(paths ...string) ([]time.Duration, error) {
	var all []transition
	for _, p := range paths {
		ts, err := readTransitions(p)
		if err != nil {
			return nil, err
		}
		all = append(all, ts...)
	}
	slices.SortFunc(all, func(a, b transition) int { return int(a.mono - b.mono) })
	var gaps []time.Duration
	for i := 1; i < len(all); i++ {
		if !all[i-1].started && all[i].started {
			gaps = append(gaps, time.Duration(all[i].mono-all[i-1].mono))
		}
	}
	return gaps, nil
}

// lastStart is the stamp of the last "started leading" in a log.
func lastStart(path string) (int64, error) {
	ts, err := readTransitions(path)
	if err != nil {
		return 0, err
	}
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].started {
			return ts[i].mono, nil
		}
	}
	return 0, fmt.Errorf("no \"started leading\" in %s", path)
}

// startAfter waits for the "started leading" stamp after mono in a log:
// the API may answer before the line is written, and a restarted identity
// appends to the log of its earlier terms.
func startAfter(ctx context.Context, path string, mono int64) (int64, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		last, err := lastStart(path)
		if err == nil && last > mono {
			return last, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no \"started leading\" after the kill in %s within 5s (last: %d, %v)", path, last, err)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// coreTable is the core figures as a Markdown table with their targets.
func coreTable(c *CoreResult) string {
	var b strings.Builder
	q := func(s stats.Summary) string {
		return fmt.Sprintf("p50 %s, p99 %s, max %s", fmtMs(s.P50), fmtMs(s.P99), fmtMs(s.Max))
	}
	other := cmdList(c.IdleOther)
	if other == "" {
		other = "none"
	}
	fmt.Fprintf(&b, "| Figure | Measured | Target |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| Graceful handover, elector to elector (log stamps), n=%d | %s | p99 ≤ 5 ms |\n", c.ElectorGap.N, q(c.ElectorGap))
	fmt.Fprintf(&b, "| Graceful handover, POST /leader/release to the follower's long-poll answer, n=%d | %s | |\n", c.APIHandover.N, q(c.APIHandover))
	fmt.Fprintf(&b, "| Crash-failover overshoot beyond the lease's expiry (TTL %s), n=%d | %s | p99 ≤ 50 ms |\n", c.CrashTTL, c.Overshoot.N, q(c.Overshoot))
	fmt.Fprintf(&b, "| Idle follower lock attempts (TTL %s, %.0fs) | %.2f per TTL (%.3f/s); other commands sent %.3f/s (%s) | ≤ 1 per TTL |\n",
		c.IdleTTL, c.IdleWindowSeconds, c.IdleAttemptsPerTTL, c.IdleAttemptsPerSec, c.IdleOtherPerSec, other)
	fmt.Fprintf(&b, "| Sidecar steady RSS (idle follower) | %.1f MiB | ≤ 30 MiB |\n", float64(c.IdleRSS)/(1<<20))
	return b.String()
}
