package main

import (
	"fmt"
	"strings"

	"github.com/baton-dev/baton/bench/internal/stats"
)

// kubeLeaseTable is the kube-lease step's figures as a Markdown table,
// with client-go's of the same run where it measured them.
func kubeLeaseTable(k *KubeLeaseResult, r *Results) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	sum := func(s stats.Summary) string {
		return fmt.Sprintf("n=%d: p50 %s, p99 %s, max %s", s.N, fmtMs(s.P50), fmtMs(s.P99), fmtMs(s.Max))
	}
	cgHand := func(id string) string {
		if h := r.findHandover(id); h != nil {
			return sum(h.Summary)
		}
		return "not measured in this run"
	}
	cgCrash := func(id string) string {
		if c := r.findCrash(id); c != nil {
			return sum(c.Overshoot)
		}
		return "not measured in this run"
	}
	cgIdle := func(id string, f func(*IdleCost) string) string {
		if c := r.findIdle(id); c != nil {
			return f(c)
		}
		return "not measured in this run"
	}
	cgTTL, cg15 := scaledKube(r.ttl()).String(), usualKube.String()
	p("| Figure | baton --backend kube-lease | client-go %s | client-go %s | Target |\n|---|---|---|---|---|\n", cgTTL, cg15)
	p("| Graceful handover, release to the follower's term start (TTL %s) | %s | %s | %s | p99 ≤ 50 ms |\n",
		k.TTL, sum(k.Handover), cgHand(idKubeTTL), cgHand(idKube15))
	p("| … to the follower's long-poll answer | %s | | | |\n", sum(k.APIHandover))
	p("| … elector to elector (log stamps) | %s | | | |\n", sum(k.ElectorGap))
	for _, s := range k.Split {
		p("| … of which: %s (audit stamps) | %s | | | |\n", s.Name, sum(s.Summary))
	}
	p("| Crash overshoot beyond the lease's expiry (TTL %s) | %s | %s | %s | |\n",
		k.TTL, sum(k.Overshoot), cgCrash(idKubeTTL), cgCrash(idKube15))
	p("| Crash failover, kill to term start | %s | | | |\n", sum(k.Failover))
	for _, c := range k.Idle {
		cg := ""
		if c.TTL == usualKube.lease.String() {
			cg = idKube15
		} else if c.TTL == r.ttl().String() {
			cg = idKubeTTL
		}
		follower := func(ic *IdleCost) string {
			return fmt.Sprintf("%.1f/min (%.2f per lease; it has no watch)", ic.WaiterRequestsPerSec*60, ic.WaiterAttemptsPerTTL)
		}
		writes := func(ic *IdleCost) string { return fmt.Sprintf("%.1f/min", ic.LeaderWritesPerMin) }
		cgF, cgW := "", ""
		if cg != "" {
			cgF, cgW = cgIdle(cg, follower), cgIdle(cg, writes)
		}
		col := func(v string) (string, string) {
			if cg == idKube15 {
				return "", v
			}
			return v, ""
		}
		f1, f2 := col(cgF)
		w1, w2 := col(cgW)
		p("| Idle follower: requests beyond its watch, TTL %s, %.0f s | %.2f/min (%.2f per lease: %s); watches opened %d | %s | %s | ≤ 1 per lease |\n",
			c.TTL, c.WindowSeconds, c.FollowerPerMin, c.FollowerPerLease, verbList(c.Follower), c.Follower.WatchOpens, f1, f2)
		p("| Leader: Updates of the Lease, TTL %s | %.1f/min; other requests %.1f/min (%s) | %s | %s | |\n",
			c.TTL, c.LeaderWritesPerMin, c.LeaderOtherPerMin, verbList(c.Leader), w1, w2)
	}
	if k.Rewon > 0 {
		p("\nIn %d handovers the releasing leader took the Lease back after its hold-off (left out above).\n", k.Rewon)
	}
	return b.String()
}

// verbList is a user's completed requests by verb, watches included.
func verbList(u userCounts) string {
	if len(u.Done) == 0 {
		return "none"
	}
	return cmdList(u.Done)
}
