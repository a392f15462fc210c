package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/baton-dev/baton/bench/internal/stats"
)

// Tool ids of the locks step (it also uses idFloor, idBsm and idRedsync).
const (
	idLockFloor    = "floor-setnx"
	idLockLease    = "baton-trylock"
	idLockWatchdog = "baton-trylock-watchdog"
	idLockFair     = "baton-fair"
	idLockSidecar  = "baton-sidecar-locks"
)

var lockOrder = []string{idLockFloor, idFloor, idLockLease, idLockWatchdog, idLockFair, idLockSidecar, idLockHTTPFloor, idBsm, idRedsync}

// lockLabel describes a tool of the locks step as its tables show it.
func lockLabel(id string, l *LocksResult) string {
	switch id {
	case idLockFloor:
		return "floor: go-redis SET NX PX + Lua compare-and-DEL"
	case idFloor:
		return "floor: go-redis DEL+PUBLISH → subscribed SET NX"
	case idLockLease:
		return "baton TryLock (leaseTime 30s)"
	case idLockWatchdog:
		return "baton TryLock (watchdog)"
	case idLockFair:
		return "baton fair TryLock (leaseTime 30s)"
	case idLockSidecar:
		return "baton sidecar: POST + DELETE /locks/{name} (HTTP)"
	case idLockHTTPFloor:
		return "HTTP floor: the same two requests to a server that does nothing"
	case idBsm:
		return fmt.Sprintf("bsm/redislock (linear retry %s)", l.BsmBackoff)
	case idRedsync:
		return "go-redsync/redsync (defaults: 32 tries, 50–250ms delay)"
	}
	return id
}

// LocksResult holds the figures of the locks step.
type LocksResult struct {
	// Hold is how long a holder keeps the lock in the contended runs.
	Hold        string  `json:"hold"`
	FairSeconds float64 `json:"fairness_s"`
	BsmBackoff  string  `json:"bsm_backoff"`
	LoadAvgBeg  string  `json:"loadavg_start"`
	LoadAvgEnd  string  `json:"loadavg_end"`
	// Ops are the uncontended acquire+release pairs per second.
	Ops []*LockOps `json:"uncontended"`
	// Handoff are the contended hand-offs and their Redis commands.
	Handoff []*LockHandoff `json:"handoff"`
	// Fairness are the acquisitions per client and the order violations.
	Fairness []*LockFairness `json:"fairness"`
}

// LockOps is one tool's uncontended throughput at one client count, each
// client on its own name.
type LockOps struct {
	Tool    string  `json:"tool"`
	Label   string  `json:"label"`
	Clients int     `json:"clients"`
	Ops     int64   `json:"ops"`
	Seconds float64 `json:"seconds"`
	// PerSec is acquire+release pairs per second over all clients.
	PerSec     float64   `json:"ops_per_s"`
	RoundRates []float64 `json:"round_ops_per_s"`
	// CPUSeconds is the CPU time (utime+stime, 10 ms ticks) of the bench
	// process (the clients), of redis-server and of the sidecar (its
	// rows only) over the runs.
	CPUSeconds map[string]float64 `json:"cpu_s"`
}

// cpuPerOp is process k's CPU time per acquire+release, in µs; 0 when
// not measured.
func (o *LockOps) cpuPerOp(k string) float64 {
	v, ok := o.CPUSeconds[k]
	if !ok || o.Ops == 0 {
		return 0
	}
	return v * 1e6 / float64(o.Ops)
}

// LockHandoff is one tool's contended hand-off at one client count.
type LockHandoff struct {
	Tool    string `json:"tool"`
	Label   string `json:"label"`
	Clients int    `json:"clients"`
	// Latency runs from just before the holder's release call to the next
	// holder's acquire returning.
	Latency stats.Summary `json:"latency"`
	// ReleaseCall is how long the holders' release calls took to return,
	// over the same run: the part of the hand-off on the release's side.
	ReleaseCall stats.Summary `json:"release_call"`
	Seconds     float64       `json:"seconds"`
	Overlaps    int           `json:"overlaps"`
	// ServerPerHandoff is INFO commandstats (commands inside scripts
	// included) over the run, per hand-off; ClientPerHandoff the commands
	// the clients sent (one EVALSHA is one), per hand-off.
	ServerPerHandoff float64          `json:"redis_cmds_per_handoff"`
	ClientPerHandoff float64          `json:"client_cmds_per_handoff"`
	ServerCmds       map[string]int64 `json:"redis_commandstats"`
	ClientCmds       map[string]int64 `json:"client_commands"`
}

// LockFairness is one tool's fairness run.
type LockFairness struct {
	Tool      string  `json:"tool"`
	Label     string  `json:"label"`
	Clients   int     `json:"clients"`
	Seconds   float64 `json:"seconds"`
	Grants    int     `json:"grants"`
	PerClient []int   `json:"acquisitions_per_client"`
	Min       int     `json:"min"`
	Max       int     `json:"max"`
	Jain      float64 `json:"jain"`
	// Violations counts grants that overtook a waiter which had certainly
	// arrived first (see orderViolations).
	Violations int           `json:"order_violations"`
	Overlaps   int           `json:"overlaps"`
	Handoff    stats.Summary `json:"handoff"`
}

func (l *LocksResult) ops(id string, n int) *LockOps {
	for _, o := range l.Ops {
		if o.Tool == id && o.Clients == n {
			return o
		}
	}
	return nil
}

func (l *LocksResult) handoff(id string, n int) *LockHandoff {
	for _, h := range l.Handoff {
		if h.Tool == id && h.Clients == n {
			return h
		}
	}
	return nil
}

func (l *LocksResult) fairness(id string) *LockFairness {
	for _, f := range l.Fairness {
		if f.Tool == id {
			return f
		}
	}
	return nil
}

// clientCounts are the distinct client counts of rows, in order.
func clientCounts[T any](rows []T, n func(T) int) []int {
	var out []int
	for _, r := range rows {
		if !slices.Contains(out, n(r)) {
			out = append(out, n(r))
		}
	}
	slices.Sort(out)
	return out
}

func lockOrderOf(id string) int {
	if i := slices.Index(lockOrder, id); i >= 0 {
		return i
	}
	return len(lockOrder)
}

// sort puts the rows in table order: by client count, then tool.
func (l *LocksResult) sort() {
	slices.SortStableFunc(l.Ops, func(a, b *LockOps) int {
		if a.Clients != b.Clients {
			return a.Clients - b.Clients
		}
		return lockOrderOf(a.Tool) - lockOrderOf(b.Tool)
	})
	slices.SortStableFunc(l.Handoff, func(a, b *LockHandoff) int {
		if a.Clients != b.Clients {
			return a.Clients - b.Clients
		}
		return lockOrderOf(a.Tool) - lockOrderOf(b.Tool)
	})
	slices.SortStableFunc(l.Fairness, func(a, b *LockFairness) int { return lockOrderOf(a.Tool) - lockOrderOf(b.Tool) })
}

// handoffBound is the p99 target for a hand-off among n clients.
func handoffBound(n int) time.Duration {
	if n <= 10 {
		return 2 * time.Millisecond
	}
	return 5 * time.Millisecond
}

// flatFactor is how much the fair lock's Redis commands per hand-off may
// grow from the fewest to the most clients and still count as O(1).
const flatFactor = 1.5

// targets checks the targets for application locks.
func (l *LocksResult) targets() []Target {
	var ts []Target
	missing := func(name, want string) { ts = append(ts, Target{Name: name, Want: want, Got: "not measured"}) }
	for _, n := range clientCounts(l.Ops, func(o *LockOps) int { return o.Clients }) {
		floor := l.ops(idLockFloor, n)
		for _, q := range []struct {
			id   string
			want float64
		}{{idLockLease, 0.8}, {idLockWatchdog, 0.8}, {idLockFair, 0.8}, {idLockSidecar, 0.4}} {
			name := fmt.Sprintf("uncontended ops/s, %s, %d client(s)", q.id, n)
			want := fmt.Sprintf("≥ %.0f%% of the floor", 100*q.want)
			o := l.ops(q.id, n)
			if o == nil || floor == nil {
				missing(name, want)
				continue
			}
			x, ok := stats.Ratio(o.PerSec, floor.PerSec)
			got := fmt.Sprintf("%.0f%% (%.0f vs %.0f ops/s)", 100*x, o.PerSec, floor.PerSec)
			if h := l.ops(idLockHTTPFloor, n); q.id == idLockSidecar && h != nil && h.PerSec > 0 {
				// HTTP and the floor's Redis pair in series: the most any
				// HTTP lock API could do here.
				got += fmt.Sprintf("; the HTTP floor alone %.0f%%, HTTP floor + Redis floor in series %.0f%%",
					100*h.PerSec/floor.PerSec, 100*h.PerSec/(h.PerSec+floor.PerSec))
			}
			ts = append(ts, Target{name, want, got, ok && x >= q.want})
		}
	}
	for _, n := range clientCounts(l.Handoff, func(h *LockHandoff) int { return h.Clients }) {
		for _, id := range []string{idLockLease, idLockFair} {
			bound := handoffBound(n)
			name := fmt.Sprintf("contended hand-off p99, %s, %d clients", id, n)
			want := "≤ " + fmtMs(bound)
			h := l.handoff(id, n)
			if h == nil {
				missing(name, want)
				continue
			}
			ts = append(ts, Target{name, want, fmt.Sprintf("%s (p50 %s, n=%d)", fmtMs(h.Latency.P99), fmtMs(h.Latency.P50), h.Latency.N),
				h.Latency.P99 <= bound && h.Latency.N > 0})
		}
	}
	if ns := clientCounts(l.Handoff, func(h *LockHandoff) int { return h.Clients }); len(ns) >= 2 {
		lo, hi := l.handoff(idLockFair, ns[0]), l.handoff(idLockFair, ns[len(ns)-1])
		name := fmt.Sprintf("fair: Redis commands per hand-off flat from %d to %d clients (O(1))", ns[0], ns[len(ns)-1])
		want := fmt.Sprintf("≤ %.1f× growth", flatFactor)
		if lo == nil || hi == nil {
			missing(name, want)
		} else {
			x, ok := stats.Ratio(hi.ServerPerHandoff, lo.ServerPerHandoff)
			got := fmt.Sprintf("%.1f → %.1f (%.2f×)", lo.ServerPerHandoff, hi.ServerPerHandoff, x)
			if ulo, uhi := l.handoff(idLockLease, ns[0]), l.handoff(idLockLease, ns[len(ns)-1]); ulo != nil && uhi != nil {
				ux, _ := stats.Ratio(uhi.ServerPerHandoff, ulo.ServerPerHandoff)
				got += fmt.Sprintf("; unfair %.1f → %.1f (%.1f×)", ulo.ServerPerHandoff, uhi.ServerPerHandoff, ux)
			}
			ts = append(ts, Target{name, want, got, ok && x <= flatFactor})
		}
	}
	if f := l.fairness(idLockFair); f != nil {
		ts = append(ts, Target{fmt.Sprintf("fair: Jain's index, %d clients, %.0f s", f.Clients, f.Seconds), "≥ 0.99",
			fmt.Sprintf("%.4f (min %d, max %d)", f.Jain, f.Min, f.Max), f.Jain >= 0.99})
		ts = append(ts, Target{"fair: FIFO order violations", "0", fmt.Sprintf("%d of %d grants", f.Violations, f.Grants), f.Violations == 0 && f.Grants > 0})
	} else {
		missing("fair: Jain's index", "≥ 0.99")
		missing("fair: FIFO order violations", "0")
	}
	overlaps, runs := 0, 0
	for _, h := range l.Handoff {
		overlaps, runs = overlaps+h.Overlaps, runs+1
	}
	for _, f := range l.Fairness {
		overlaps, runs = overlaps+f.Overlaps, runs+1
	}
	if runs > 0 {
		ts = append(ts, Target{"mutual exclusion: grants while another client held the lock (every contended run)", "0",
			fmt.Sprintf("%d in %d runs", overlaps, runs), overlaps == 0})
	}
	return ts
}

// targetTable is targets as a Markdown table.
func targetTable(ts []Target) string {
	var b strings.Builder
	b.WriteString("| Target | Want | Got | Result |\n|---|---|---|---|\n")
	for _, t := range ts {
		result := "PASS"
		if !t.Pass {
			result = "FAIL"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, result)
	}
	return b.String()
}
