package chaos

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

// SchedAttempt is one attempt of a scheduled job's window, as the job's
// stamps and the job's record (pkg/runs) show it.
type SchedAttempt struct {
	Window   time.Time // the window's start, Redis time
	RunID    string
	Attempt  int
	Fence    uint64
	Identity string

	// Stamped: the job stamped its start. Start and End are
	// CLOCK_MONOTONIC ns: the start stamp, and the end stamp or, for a
	// job killed before it could stamp, the moment it was seen gone (an
	// upper bound). StartWall and EndWall are the same on the wall clock,
	// the time base of Redis TIME on this host.
	Stamped                bool
	Start, End             int64
	StartWall, EndWall     int64
	Exit                   string // "0", another exit code, "term" (SIGTERM), "gone" (killed)
	Recorded               bool
	Status                 runs.Status
	RecordStart, RecordEnd time.Time // RecordEnd: the completion, or a lost attempt's lease end
}

// Outage is a stretch of wall time (ns) in which Target, "redis" or a
// replica, was faulted. A heavy outage takes its target out: Redis down, a
// replica killed (To is then math.MaxInt64), stopped, or slowed by 100ms
// or more each way.
type Outage struct {
	Kind, Target string
	From, To     int64
	Heavy        bool
}

// Life is when a replica served: from its first /healthz 200.
type Life struct {
	Name string
	From int64
}

// ScheduleInput is what CheckSchedule checks.
type ScheduleInput struct {
	// Every is the length of a window; the windows checked start at or
	// after From and close at or before To.
	Every    time.Duration
	From, To time.Time
	Attempts []SchedAttempt
	Outages  []Outage
	Lives    []Life
	// The rule of missed windows: a window owes an attempt when, at some
	// moment t in [start, close - Claim], Redis was up and a replica
	// healthy throughout [t - Recover, t + Claim].
	Recover, Claim time.Duration
	// Explain is how long after a successful job's end a heavy outage of
	// its runner or of Redis explains that the success was not recorded.
	Explain time.Duration
	Faults  map[string]int
}

// ScheduleReport is what CheckSchedule found.
type ScheduleReport struct {
	Windows, Succeeded, Attempts, Stamped, Retries, JobFailures, Lost int
	// NoSuccess counts the windows that ran without a success, by the
	// status of their last attempt.
	NoSuccess map[string]int
	// NoSuccessDetail says, for each of them, what ran and what failed.
	NoSuccessDetail []string
	// The violations.
	TwiceSucceeded, AfterSuccess, Overlaps, MissedOwed, Unexplained, RecordErrors []string
	// MissedExcused are windows without an attempt that the rule excuses.
	MissedExcused int
	// UnrecordedSuccess are jobs that exited 0 but whose success was not
	// recorded, each explained by an outage of its runner or of Redis.
	UnrecordedSuccess int
	// CrossWindow are attempts that ran beside an attempt of another window
	// (allowed: each window has its own lease).
	CrossWindow int
	// StartLag is, for first attempts, job start minus window start.
	StartLag []time.Duration
	// MinMargin is the smallest gap between two attempts of one window.
	MinMargin time.Duration
	Faults    map[string]int
}

// OK reports whether no rule was broken.
func (r *ScheduleReport) OK() bool { return len(r.Problems()) == 0 }

// Problems lists every violation.
func (r *ScheduleReport) Problems() []string {
	var all []string
	for _, g := range [][]string{r.RecordErrors, r.TwiceSucceeded, r.AfterSuccess, r.Overlaps, r.MissedOwed, r.Unexplained} {
		all = append(all, g...)
	}
	return all
}

// CheckSchedule proves exactly-once from the attempts: no window succeeds
// twice, none runs after its success, no two attempts of a window overlap
// (by the stamps, and by the record's Redis times), no window owed an
// attempt by the rule misses it, and stamps and record agree.
func CheckSchedule(in ScheduleInput) *ScheduleReport {
	r := &ScheduleReport{NoSuccess: map[string]int{}, Faults: in.Faults, MinMargin: time.Duration(math.MaxInt64)}
	byWindow := map[int64][]SchedAttempt{} // by the window's start, Unix ns
	for _, a := range in.Attempts {
		byWindow[a.Window.UnixNano()] = append(byWindow[a.Window.UnixNano()], a)
	}
	for w, as := range byWindow {
		r.checkOverlap(time.Unix(0, w).UTC(), as)
	}
	r.CrossWindow = crossWindow(in.Attempts)
	for s := in.From.Round(0).UTC(); !s.Add(in.Every).After(in.To); s = s.Add(in.Every) {
		r.Windows++
		as := byWindow[s.UnixNano()]
		if len(as) == 0 {
			if in.owed(s, s.Add(in.Every)) {
				r.MissedOwed = append(r.MissedOwed, fmt.Sprintf("window %s missed while Redis was up and a replica healthy; outages near it: %s",
					runs.WindowName(s), in.near(s.Add(-2*in.Every), s.Add(in.Every))))
			} else {
				r.MissedExcused++
			}
			continue
		}
		r.checkWindow(in, s, as)
	}
	if r.MinMargin == time.Duration(math.MaxInt64) {
		r.MinMargin = 0
	}
	return r
}

// checkWindow checks the attempts of the window that starts at s.
func (r *ScheduleReport) checkWindow(in ScheduleInput, s time.Time, as []SchedAttempt) {
	name := runs.WindowName(s)
	sort.Slice(as, func(i, j int) bool { return as[i].Attempt < as[j].Attempt })
	var success *SchedAttempt
	for i := range as {
		a := &as[i]
		r.Attempts++
		if a.Attempt > 1 {
			r.Retries++
		}
		if a.Stamped {
			r.Stamped++
			if a.Attempt == 1 {
				r.StartLag = append(r.StartLag, time.Duration(a.StartWall-s.UnixNano()))
			}
			if a.Exit != "0" && a.Exit != "term" && a.Exit != "gone" {
				r.JobFailures++
			}
		}
		switch {
		case !a.Recorded:
			r.RecordErrors = append(r.RecordErrors, fmt.Sprintf("window %s attempt %d (run %s by %s) stamped but not in the record", name, a.Attempt, a.RunID, a.Identity))
		case a.Status == runs.Lost:
			r.Lost++
		case a.Status == runs.Succeeded && (!a.Stamped || a.Exit != "0"):
			r.RecordErrors = append(r.RecordErrors, fmt.Sprintf("window %s attempt %d recorded succeeded, but its job did not exit 0 (stamped %v, exit %q)", name, a.Attempt, a.Stamped, a.Exit))
		case a.Status == runs.Failed && a.Exit == "0":
			r.RecordErrors = append(r.RecordErrors, fmt.Sprintf("window %s attempt %d recorded failed, but its job exited 0", name, a.Attempt))
		}
		if a.Status == runs.Succeeded {
			if success != nil {
				r.TwiceSucceeded = append(r.TwiceSucceeded, fmt.Sprintf("window %s succeeded twice: attempts %d (%s) and %d (%s)", name, success.Attempt, success.Identity, a.Attempt, a.Identity))
			}
			success = a
		} else if a.Stamped && a.Exit == "0" {
			if in.explained(a) {
				r.UnrecordedSuccess++
			} else {
				r.Unexplained = append(r.Unexplained, fmt.Sprintf("window %s attempt %d by %s: the job exited 0, its success was not recorded (%q), and no fault explains it", name, a.Attempt, a.Identity, a.Status))
			}
		}
	}
	if success != nil {
		r.Succeeded++
		for _, a := range as {
			if a.Attempt > success.Attempt {
				r.AfterSuccess = append(r.AfterSuccess, fmt.Sprintf("window %s ran attempt %d (%s) after its success at attempt %d", name, a.Attempt, a.Identity, success.Attempt))
			}
		}
		return
	}
	r.NoSuccess[string(as[len(as)-1].Status)]++
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "attempt %d by %s %s (exit %q) from %v to %v; ", a.Attempt, a.Identity, a.Status, a.Exit,
			time.Duration(a.StartWall-s.UnixNano()).Round(time.Millisecond), time.Duration(a.EndWall-s.UnixNano()).Round(time.Millisecond))
	}
	r.NoSuccessDetail = append(r.NoSuccessDetail, fmt.Sprintf("window %s: %soutages: %s", name, b.String(), in.near(s.Add(-in.Every), s.Add(in.Every))))
}

// checkOverlap checks that no two attempts of window w overlap: their
// jobs by the stamps, and their record's times in Redis time.
func (r *ScheduleReport) checkOverlap(w time.Time, as []SchedAttempt) {
	var stamped []SchedAttempt
	for _, a := range as {
		if a.Stamped {
			stamped = append(stamped, a)
		}
	}
	sort.Slice(stamped, func(i, j int) bool { return stamped[i].Start < stamped[j].Start })
	for i := 1; i < len(stamped); i++ {
		prev, next := stamped[i-1], stamped[i]
		margin := time.Duration(next.Start - prev.End)
		r.MinMargin = min(r.MinMargin, margin)
		if margin < 0 {
			r.Overlaps = append(r.Overlaps, fmt.Sprintf("window %s: attempt %d (%s, ended %s) and attempt %d (%s) ran at once for %v",
				runs.WindowName(w), prev.Attempt, prev.Identity, prev.Exit, next.Attempt, next.Identity, -margin))
		}
	}
	var recorded []SchedAttempt
	for _, a := range as {
		if a.Recorded {
			recorded = append(recorded, a)
		}
	}
	sort.Slice(recorded, func(i, j int) bool { return recorded[i].Attempt < recorded[j].Attempt })
	for i := 1; i < len(recorded); i++ {
		prev, next := recorded[i-1], recorded[i]
		if prev.RecordEnd.IsZero() || next.RecordStart.Before(prev.RecordEnd) {
			r.Overlaps = append(r.Overlaps, fmt.Sprintf("window %s: the record has attempt %d start at %s, before attempt %d ended (%s, %s)",
				runs.WindowName(w), next.Attempt, next.RecordStart.Format(time.RFC3339Nano), prev.Attempt, prev.Status, prev.RecordEnd.Format(time.RFC3339Nano)))
		}
	}
}

// crossWindow counts the stamped attempts that ran beside an attempt of
// another window.
func crossWindow(as []SchedAttempt) int {
	n := 0
	for i, a := range as {
		for j, b := range as {
			if i != j && a.Stamped && b.Stamped && !a.Window.Equal(b.Window) && a.Start < b.End && b.Start < a.End {
				n++
				break
			}
		}
	}
	return n
}

// owed applies the rule of missed windows to the window [s, c).
func (in ScheduleInput) owed(s, c time.Time) bool {
	const step = 5 * time.Millisecond
	need := int((in.Recover + in.Claim) / step)
	run := 0
	for t := s.Add(-in.Recover); !t.After(c); t = t.Add(step) {
		if !in.good(t.UnixNano()) {
			run = 0
			continue
		}
		run++
		// good throughout [t - Recover - Claim, t]: the moment t - Claim
		// must lie in [s, c - Claim], and t within the window.
		if run > need && !t.Add(-in.Claim).Before(s) {
			return true
		}
	}
	return false
}

// good reports whether at wall time at Redis was up and a replica healthy.
func (in ScheduleInput) good(at int64) bool {
	for _, o := range in.Outages {
		if o.Heavy && o.Target == "redis" && o.From <= at && at < o.To {
			return false
		}
	}
	for _, l := range in.Lives {
		if l.From > at {
			continue
		}
		healthy := true
		for _, o := range in.Outages {
			if o.Heavy && o.Target == l.Name && o.From <= at && at < o.To {
				healthy = false
				break
			}
		}
		if healthy {
			return true
		}
	}
	return false
}

// near lists the outages that overlap [from, to), with their times
// relative to from.
func (in ScheduleInput) near(from, to time.Time) string {
	var out []string
	for _, o := range in.Outages {
		if o.To == math.MaxInt64 && o.From < from.UnixNano() {
			continue // a replica killed before: gone for good
		}
		if o.From < to.UnixNano() && from.UnixNano() < o.To {
			end := "on"
			if o.To != math.MaxInt64 {
				end = time.Duration(o.To - from.UnixNano()).Round(time.Millisecond).String()
			}
			out = append(out, fmt.Sprintf("%s on %s [%v, %s]", o.Kind, o.Target, time.Duration(o.From-from.UnixNano()).Round(time.Millisecond), end))
		}
	}
	return "(from " + from.Format("15:04:05.000") + ") " + strings.Join(out, "; ")
}

// explained reports whether a heavy outage of a's runner or of Redis
// overlaps a's run, up to Explain after its end.
func (in ScheduleInput) explained(a *SchedAttempt) bool {
	until := a.EndWall + int64(in.Explain)
	for _, o := range in.Outages {
		if o.Heavy && (o.Target == "redis" || o.Target == a.Identity) && o.From < until && a.StartWall < o.To {
			return true
		}
	}
	return false
}

// Table renders the report.
func (r *ScheduleReport) Table() string {
	var b strings.Builder
	kinds := make([]string, 0, len(r.Faults))
	total := 0
	for k, n := range r.Faults {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	width := len("jobs that exited 0, unrecorded (runner faulted)")
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-*s %v\n", width, k, v) }
	b.WriteString("schedule summary\n")
	row("windows", r.Windows)
	row("windows succeeded", r.Succeeded)
	row("attempts (record and stamps)", r.Attempts)
	row("attempts whose job stamped its start", r.Stamped)
	row("retries (attempt > 1)", r.Retries)
	row("job failures (exit != 0)", r.JobFailures)
	row("attempts lost (lease ran out)", r.Lost)
	reasons := make([]string, 0, len(r.NoSuccess))
	for k := range r.NoSuccess {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		row("windows ran, no success, last "+k, r.NoSuccess[k])
	}
	row("jobs that exited 0, unrecorded (runner faulted)", r.UnrecordedSuccess)
	row("attempts beside another window's", r.CrossWindow)
	row("faults", total)
	for _, k := range kinds {
		row("  "+k, r.Faults[k])
	}
	row("windows succeeded twice", len(r.TwiceSucceeded))
	row("attempts after the window's success", len(r.AfterSuccess))
	row("attempts of one window overlapping", len(r.Overlaps))
	row("windows missed, owed by the rule", len(r.MissedOwed))
	row("windows missed, excused by the rule", r.MissedExcused)
	row("record errors", len(r.RecordErrors))
	row("smallest gap between two attempts", r.MinMargin.Round(time.Microsecond))
	if len(r.StartLag) > 0 {
		lag := append([]time.Duration(nil), r.StartLag...)
		sort.Slice(lag, func(i, j int) bool { return lag[i] < lag[j] })
		q := func(p float64) time.Duration {
			return lag[min(len(lag)-1, int(p*float64(len(lag))))].Round(100 * time.Microsecond)
		}
		row("job start after window start p50/p99/max", fmt.Sprintf("%v / %v / %v", q(0.5), q(0.99), lag[len(lag)-1].Round(100*time.Microsecond)))
	}
	return b.String()
}
