package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

// maxRunLease is the longest lease of a run's claim (runs.Job.Claim).
const maxRunLease = 24 * time.Hour

// The values of --catch-up.
const (
	catchUpNone = "none"
	catchUpLast = "last"
)

// scheduleConfig is what `baton run --schedule` adds (schedule.go): the job
// runs once per window of the schedule, on whichever replica claims it.
type scheduleConfig struct {
	Spec            string
	TimeZone        string
	MaxAttempts     int
	CatchUp         string
	AttemptDeadline time.Duration

	// schedule is Spec parsed in TimeZone, set by validateSchedule.
	schedule *runs.Schedule
}

// addScheduleFlags registers the schedule flags of `baton run`.
func (s *scheduleConfig) addScheduleFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.Spec, "schedule", "", "run the job once per window of this schedule, on one replica: a cron expression of 5 fields, of 6 with seconds first, @every DURATION or a macro such as @daily (default: exec mode, the job runs while leading)")
	fs.StringVar(&s.TimeZone, "time-zone", "", "IANA time zone of --schedule, such as Europe/Berlin (default UTC)")
	fs.IntVar(&s.MaxAttempts, "max-attempts", 3, "attempts per window of --schedule, failed and lost ones counted (1 to 100)")
	fs.StringVar(&s.CatchUp, "catch-up", catchUpNone, "windows of --schedule that no replica ran: none (skip them) or last (run the most recent one once)")
	fs.DurationVar(&s.AttemptDeadline, "attempt-deadline", 0, "no attempt of a window of --schedule starts later than this after the window's start, nor after the next window's start (default: until the next window's start)")
}

// validateSchedule parses --schedule and checks the schedule flags; set
// holds the flags given. It makes no Redis call.
func (c *config) validateSchedule(set map[string]bool) error {
	if c.Schedule.Spec == "" {
		if set["schedule"] {
			// An empty --schedule (an unset variable in a script) must not
			// fall back to exec mode, where the job runs while leading.
			return fmt.Errorf("%w: --schedule must not be empty: give a schedule such as @daily, or leave the flag out for exec mode", errUsage)
		}
		for _, f := range []string{"time-zone", "max-attempts", "catch-up", "attempt-deadline"} {
			if set[f] {
				return fmt.Errorf("%w: --%s requires --schedule", errUsage, f)
			}
		}
		return nil
	}
	sched, err := runs.ParseSchedule(c.Schedule.Spec, c.Schedule.TimeZone)
	if err != nil {
		return usageError("runs", err)
	}
	c.Schedule.schedule = sched
	if set["on-exit"] {
		return fmt.Errorf("%w: --on-exit does not apply with --schedule: each window's run ends with its job", errUsage)
	}
	return c.checkRules(scheduleRules)
}

// scheduleRules are the rules of the schedule flags, checked once
// --schedule and --time-zone parsed.
var scheduleRules = []rule{
	{"--max-attempts", func(c *config) string {
		n := c.Schedule.MaxAttempts
		return when(n < 1 || n > 100, "must be from 1 to 100 (got %d)", n)
	}},
	{"--catch-up", func(c *config) string { return oneOf(c.Schedule.CatchUp, catchUpNone, catchUpLast) }},
	{"--attempt-deadline", func(c *config) string {
		d := c.Schedule.AttemptDeadline
		return when(d < 0 || d%time.Millisecond != 0, "must be a whole number of milliseconds, 0 for none (got %v)", d)
	}},
	{"--lease-ttl", func(c *config) string {
		d := c.LeaseTTL
		return when(d%time.Millisecond != 0 || d > maxRunLease, "must be a whole number of milliseconds, at most %v, with --schedule (got %v)", maxRunLease, d)
	}},
	{"--redis-min-replicas-ack", func(c *config) string {
		return when(c.RedisMinReplicasAck != 0, "is not supported with --schedule")
	}},
	// Schedule mode runs no election: nothing leads, and nothing is
	// published on the pod.
	{"--ready-when", func(c *config) string {
		return when(c.ReadyWhen != "connected", "must be connected with --schedule, which runs no election (got %q)", c.ReadyWhen)
	}},
	{"--kube", func(c *config) string {
		return when(c.Kube == kubeOn, "is not supported with --schedule, which runs no election")
	}},
}
