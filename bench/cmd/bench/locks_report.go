package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg/draw"
)

// locksMarkdown is the results.md section of the locks step.
func locksMarkdown(l *LocksResult) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Application locks (-only locks)\n\n")
	p("pkg/locks's Mutex.TryLock, plain and fair, the sidecar's `/locks` API and the peers, in one run on one Redis. Load average %s at the start of the step, %s at the end.\n\n", l.LoadAvgBeg, l.LoadAvgEnd)
	p("%s\n", targetTable(l.targets()))

	p("### Uncontended acquire+release\n\n")
	p("Each client has its own Redis client (the sidecar: its own keep-alive HTTP connection) and its own lock name, and takes and releases it as fast as the answers come; the runs are split into interleaved rounds whose order rotates. The sidecar is one real `baton` process; its lock API is `POST /locks/{name}?lease=30s` then `DELETE /locks/{name}?token=`. The HTTP floor is a process of the bench's own binary that answers the same two requests with bodies of the same shape and does nothing else: what HTTP alone costs on this machine, with the same keep-alive client.\n\n")
	p("CPU per pair is the CPU time (10 ms ticks of utime+stime) of the bench process (the clients), of redis-server and of the sidecar over the runs, divided by the pairs: where the time goes on a machine whose cores are shared.\n\n")
	p("| Tool | Clients | ops/s | vs floor | per-round ops/s | CPU µs per pair: clients | redis-server | sidecar (or HTTP floor) |\n|---|---|---|---|---|---|---|---|\n")
	for _, o := range l.Ops {
		vs := "–"
		if f := l.ops(idLockFloor, o.Clients); f != nil && f.PerSec > 0 {
			vs = fmt.Sprintf("%.0f%%", 100*o.PerSec/f.PerSec)
		}
		rounds := make([]string, len(o.RoundRates))
		for i, r := range o.RoundRates {
			rounds[i] = fmt.Sprintf("%.0f", r)
		}
		sc := "–"
		if v := o.cpuPerOp("sidecar"); v > 0 {
			sc = fmt.Sprintf("%.0f", v)
		}
		p("| %s | %d | %.0f | %s | %s | %.0f | %.0f | %s |\n", o.Label, o.Clients, o.PerSec, vs, strings.Join(rounds, ", "),
			o.cpuPerOp("bench"), o.cpuPerOp("redis"), sc)
	}
	p("\n![uncontended acquire+release](locks_ops.png)\n\n")

	p("### Contended hand-off and its Redis commands\n\n")
	p("All clients on one name; a holder keeps the lock %s, then releases; the hand-off runs from just before the release call to the next holder's acquire returning. A client that released asks again only once another client holds the lock, so each release hands off to one of the clients-1 waiters. Redis commands are INFO commandstats deltas over the run (commands inside Lua scripts count), client commands what the clients sent (one EVALSHA is one), both per hand-off.\n\n", l.Hold)
	p("The release call's own p50/p99 (call to return, same run) shows the release's side of each hand-off; the rest is the waiter's wake-up and acquire.\n\n")
	p("| Tool | Clients | n | p50 | p90 | p99 | max | release call p50 | p99 | Redis cmds / hand-off | client cmds / hand-off |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, h := range l.Handoff {
		x := h.Latency
		p("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %.1f | %.1f |\n", h.Label, h.Clients, x.N, fmtMs(x.P50), fmtMs(x.P90), fmtMs(x.P99), fmtMs(x.Max),
			fmtMs(h.ReleaseCall.P50), fmtMs(h.ReleaseCall.P99), h.ServerPerHandoff, h.ClientPerHandoff)
	}
	p("\n![contended hand-off](locks_handoff.png)\n\n![Redis commands per hand-off](locks_cmds.png)\n\n")
	for _, h := range l.Handoff {
		if h.Tool == idLockFair || h.Tool == idLockLease {
			p("- %s, %d clients, Redis commands over %d hand-offs: %s\n", h.Label, h.Clients, h.Latency.N, cmdList(h.ServerCmds))
		}
	}

	p("\n### Fairness\n\n")
	p("%d clients for %.0f s each, on one name; a holder keeps the lock %s and asks again as soon as it has released. An order violation is a grant that overtook a waiter which had certainly arrived first: the bench brackets each acquisition's first command (a fair waiter's enqueue, any other tool's first try) between its send and its reply, and a waiter whose bracket ended before another's began arrived first; overlapping brackets are never counted. Unfair locks are not meant to keep arrival order: their violations show how often it is lost.\n\n", fairClients(l), l.FairSeconds, l.Hold)
	p("| Tool | Grants | per client min | max | Jain's index | order violations | hand-off p50 | p99 |\n|---|---|---|---|---|---|---|---|\n")
	for _, f := range l.Fairness {
		p("| %s | %d | %d | %d | %.4f | %d | %s | %s |\n", f.Label, f.Grants, f.Min, f.Max, f.Jain, f.Violations, fmtMs(f.Handoff.P50), fmtMs(f.Handoff.P99))
	}
	p("\n![fairness](locks_fairness.png)\n\n")
	return b.String()
}

func fairClients(l *LocksResult) int {
	if len(l.Fairness) > 0 {
		return l.Fairness[0].Clients
	}
	return 0
}

// seriesByClients is one dot series per client count of rows: tools as
// rows, value(tool, n) as the dots; ids lists the tools in table order.
func seriesByClients(l *LocksResult, ns []int, ids []string, label string, value func(id string, n int) float64) []dotSeries {
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{}}
	var out []dotSeries
	for i, n := range ns {
		vs := make([]float64, len(ids))
		for j, id := range ids {
			vs[j] = value(id, n)
		}
		out = append(out, dotSeries{fmt.Sprintf(label, n), vs, shapes[i%len(shapes)], plotutil.Color(i)})
	}
	return out
}

// toolsOf are the tools that rows name, in table order.
func toolsOf(ids []string) []string {
	var out []string
	for _, id := range lockOrder {
		for _, x := range ids {
			if x == id {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

func labels(l *LocksResult, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = lockLabel(id, l)
	}
	return out
}

// plotLocks writes the locks step's plots when it ran.
func plotLocks(dir string, r *Results) error {
	l := r.Locks
	if l == nil {
		return nil
	}
	var ids []string
	for _, o := range l.Ops {
		ids = append(ids, o.Tool)
	}
	ids = toolsOf(ids)
	ns := clientCounts(l.Ops, func(o *LockOps) int { return o.Clients })
	if len(ids) > 0 {
		if err := dotPlot(filepath.Join(dir, "locks_ops.png"), "Uncontended acquire+release (each client on its own name)", "ops/s (log scale)",
			labels(l, ids), seriesByClients(l, ns, ids, "%d client(s)", func(id string, n int) float64 {
				if o := l.ops(id, n); o != nil {
					return o.PerSec
				}
				return 0
			})); err != nil {
			return err
		}
	}
	if len(l.Handoff) > 0 {
		var names []string
		var p50, p99, mx []float64
		for _, h := range l.Handoff {
			names = append(names, fmt.Sprintf("%s, %d clients", h.Label, h.Clients))
			p50 = append(p50, floorLog(msf(h.Latency.P50)))
			p99 = append(p99, floorLog(msf(h.Latency.P99)))
			mx = append(mx, floorLog(msf(h.Latency.Max)))
		}
		if err := dotPlot(filepath.Join(dir, "locks_handoff.png"), "Contended hand-off: release → next holder", "ms (log scale)", names, quantileDots(p50, p99, mx)); err != nil {
			return err
		}
		ids = nil
		for _, h := range l.Handoff {
			ids = append(ids, h.Tool)
		}
		ids = toolsOf(ids)
		hn := clientCounts(l.Handoff, func(h *LockHandoff) int { return h.Clients })
		if err := dotPlot(filepath.Join(dir, "locks_cmds.png"), "Redis commands per contended hand-off (commandstats, in-script included)", "commands per hand-off (log scale)",
			labels(l, ids), seriesByClients(l, hn, ids, "%d clients", func(id string, n int) float64 {
				if h := l.handoff(id, n); h != nil {
					return h.ServerPerHandoff
				}
				return 0
			})); err != nil {
			return err
		}
	}
	if len(l.Fairness) > 0 {
		var names []string
		var lo, mean, hi []float64
		for _, f := range l.Fairness {
			names = append(names, fmt.Sprintf("%s (Jain %.3f)", f.Label, f.Jain))
			lo = append(lo, float64(f.Min))
			hi = append(hi, float64(f.Max))
			mean = append(mean, float64(f.Grants)/float64(max(f.Clients, 1)))
		}
		if err := dotPlot(filepath.Join(dir, "locks_fairness.png"), fmt.Sprintf("Acquisitions per client, %d clients, %.0f s", fairClients(l), l.FairSeconds), "acquisitions (log scale; a client with 0 has no dot)",
			names, []dotSeries{
				{"fewest", lo, draw.CircleGlyph{}, plotutil.Color(0)},
				{"mean", mean, draw.TriangleGlyph{}, plotutil.Color(1)},
				{"most", hi, draw.CrossGlyph{}, plotutil.Color(2)},
			}); err != nil {
			return err
		}
	}
	return nil
}
