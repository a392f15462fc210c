package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/baton-dev/baton/bench/internal/stats"
)

// scheduleIntro says how the schedule step measured, for results.md.
func scheduleIntro(s *ScheduleResult) string {
	return fmt.Sprintf("Replicas of `baton run --schedule '@every %s' --lease-ttl %s` on one job against the bench's redis-server; the job, bench/cmd/runstamp, appends its wall clock as the first thing its main does and exits 0. "+
		"Redis runs on this machine, so its TIME and the wall clock are one clock (CLOCK_REALTIME); their offset, read once, was %s (± %s), and the latencies are corrected by it. "+
		"The first %d windows after every replica is up are left out (the scripts' first load, the pub/sub connection's dial). "+
		"The commands are counted with Redis MONITOR, per connection, attributed to a replica by the name its connections give themselves (`HELLO 3 SETNAME baton:<identity>`), and to the window whose start is nearest in Redis TIME; the commands scripts run inside Redis are left out. Load average %s at the start of the step, %s at the end.\n",
		s.Every, s.LeaseTTL, fmtMs(s.ClockOffset), fmtMs(s.ClockBound), scheduleWarmup, s.LoadAvgBeg, s.LoadAvgEnd)
}

// scheduleTable is the schedule-mode figures as a Markdown table with
// targets.
func scheduleTable(s *ScheduleResult) string {
	var b strings.Builder
	q := func(s stats.Summary) string {
		return fmt.Sprintf("p50 %s, p99 %s, max %s", fmtMs(s.P50), fmtMs(s.P99), fmtMs(s.Max))
	}
	fmt.Fprintf(&b, "| Figure | Measured | Target |\n|---|---|---|\n")
	for _, p := range s.Phases {
		how := fmt.Sprintf("%d replicas", p.Replicas)
		if p.Monitor {
			how += ", MONITOR on"
		}
		target := "p99 ≤ 10 ms"
		if p.Monitor {
			target = ""
		}
		fmt.Fprintf(&b, "| Window start (Redis TIME) to the job's start, %s, n=%d | %s | %s |\n", how, p.Latency.N, q(p.Latency), target)
		if !p.Monitor {
			fmt.Fprintf(&b, "| … wake-up: the window's start to the claim's Redis TIME | %s | |\n", q(p.Wake))
			fmt.Fprintf(&b, "| … the claim's reply: to the runner's \"running the window's job\" | %s | |\n", q(p.Claim))
			fmt.Fprintf(&b, "| … the guard's and the job's fork and exec: to \"child started\" | %s | |\n", q(p.Spawn))
			fmt.Fprintf(&b, "| … the job's own start: to its stamp | %s | |\n", q(p.Job))
		}
		if p.Missed > 0 || p.Retried > 0 {
			fmt.Fprintf(&b, "| Windows without a run / with more than one attempt, of %d | %d / %d | 0 / 0 |\n", p.Windows, p.Missed, p.Retried)
		}
		if c := p.Commands; c != nil {
			fmt.Fprintf(&b, "| Redis commands per window, %d replicas (n=%d windows): the runner | %.2f (%s) | |\n", p.Replicas, c.Windows, c.Runner, meanList(c.RunnerCmds))
			fmt.Fprintf(&b, "| … each non-runner, mean (most in one window) | %.2f (%d): %s | O(1): flat in N |\n", c.NonRunner, c.NonRunnerMax, meanList(c.NonRunnerCmds))
			fmt.Fprintf(&b, "| … connections opened per window, all replicas | %.2f | |\n", c.Dials)
		}
	}
	return b.String()
}

// meanList is "`cmd` 1.00, …", most first, then by name.
func meanList(m map[string]float64) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("`%s` %s", k, fmtMean(m[k])))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// fmtMean is a mean count with two decimals, or three significant digits
// below 0.01, so that a rare command does not show as 0.00.
func fmtMean(v float64) string {
	if v != 0 && v < 0.01 {
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.2f", v)
}
