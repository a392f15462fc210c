package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/pkg/metrics"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// Schedule mode: `baton run --schedule SPEC -- CMD` runs CMD once per
// window of SPEC across the replicas that share --lock, the job's name.
// The windows follow Redis server TIME (runs.Job.Now), and a claim of the
// window (runs.Job.Claim) is the exclusion: schedule mode runs no
// election. Its probes and metrics are schedule_probes.go's, its API, with
// a /leader that tells the windows and the last run, schedule_api.go's.
//
// Between windows a replica sleeps on its own monotonic clock until the
// next window's start, as measured from one read of Redis TIME after its
// last wake-up; it sends Redis nothing meanwhile. At the window's start it
// claims the window. The winner runs CMD while a watchdog renews the run's
// lease, and records the outcome; the others wait while the window may
// still run: until its attempt's lease could have expired, or an attempt
// ends (runs.Job.Watch), and then claim again.

// The variables a scheduled job gets, besides supervisor's (BATON_FENCE is
// the run's fence, BATON_TERM_START its claim's Redis time).
const (
	envRunJob     = "BATON_RUN_JOB"     // the job's name, --lock
	envRunWindow  = "BATON_RUN_WINDOW"  // the window's start, RFC 3339, UTC
	envRunID      = "BATON_RUN_ID"      // the run's id, 32 hex digits
	envRunAttempt = "BATON_RUN_ATTEMPT" // the window's attempt, from 1
)

// scheduleRetry is the longest wait before a Redis call of the schedule
// that failed (the time, a claim) is tried again, minScheduleRetry the
// shortest (see retry).
const (
	scheduleRetry    = time.Second
	minScheduleRetry = 50 * time.Millisecond
)

// maxMissedCount caps the missed windows counted at once, so that a
// schedule of seconds idle for a year is not counted for minutes.
const maxMissedCount = 100_000

// The results of an attempt that this replica ran (scheduleRecorder).
const (
	resultSucceeded = "succeeded" // the job exited 0, and that was recorded
	resultFailed    = "failed"    // the job failed, and that was recorded
	resultLost      = "lost"      // the run's lease was lost, or its outcome could not be recorded
	resultCanceled  = "canceled"  // stopped at shutdown (SIGTERM)
)

// scheduleRecorder receives what the scheduler learns, from the calls it
// makes anyway: metrics.Schedule implements it. Its methods must not
// block.
type scheduleRecorder interface {
	// MissedWindows adds n windows of job that no replica ran.
	MissedWindows(job string, n int)
	// RunEnded counts an attempt that this replica ran, by result.
	RunEnded(job, result string)
	// LastSuccess notes when job's latest successful run ended, in Redis
	// time.
	LastSuccess(job string, end time.Time)
	// Window notes job's current window, from start to next, the next
	// window's start.
	Window(job string, previous, start, next time.Time)
}

var _ scheduleRecorder = (*metrics.Schedule)(nil)

// scheduler runs one job on its schedule.
type scheduler struct {
	cfg   *config
	job   *runs.Job
	sched *runs.Schedule
	log   *slog.Logger
	rec   scheduleRecorder

	mu  sync.Mutex
	cur *supervisor.Supervisor // the running job's, nil between runs

	running atomic.Pointer[runs.Run] // this replica's running attempt, for /leader

	warm warmGuard // the guard started ahead of the next window

	// counted is the latest window that missed judged, zero before the
	// first count: a later count starts after it, so that this replica
	// counts no window twice. Only the scheduler's loop uses it.
	counted time.Time
}

// runSchedule is `baton run --schedule`: it runs the job on its schedule
// until the first SIGTERM or SIGINT, and returns the exit code. A SIGTERM
// during a run stops the job (--kill-grace), records its attempt failed
// (within --release-timeout) so that another replica retries at once, and
// stops the probes (httpShutdownTimeout).
func runSchedule(cfg *config, logOut io.Writer) int {
	log := newLogger(cfg.LogFormat, cfg.LogLevel, logOut)
	routeLibraryLogs(log)
	client, err := redisClient(cfg)
	if err != nil {
		fmt.Fprintf(logOut, "baton: %v\n", err)
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitFailed
	}
	defer client.Close()
	job, err := runs.New(client, cfg.Lock, runs.Options{
		// SIGTERM must not wait for a stalled call's socket deadline.
		Lease:       redislock.Options{Prefix: cfg.KeyPrefix, GuardCalls: true},
		Identity:    cfg.Identity,
		MaxAttempts: cfg.Schedule.MaxAttempts,
	})
	if err != nil {
		fmt.Fprintf(logOut, "baton: %v\n", usageError("runs", err))
		return exitUsage
	}
	s := &scheduler{cfg: cfg, job: job, sched: cfg.Schedule.schedule, log: log, warm: warmGuard{log: log}}
	if _, err := s.supervisor(log, nil, nil); err != nil { // the command, before any Redis call
		fmt.Fprintf(logOut, "baton: %v\n", usageError("supervisor", err))
		return exitUsage
	}
	reg := prometheus.NewRegistry()
	if s.rec, err = metrics.NewSchedule(reg, cfg.Lock); err != nil {
		fmt.Fprintf(logOut, "baton: %v\n", err)
		return exitFailed
	}
	probes, err := newScheduleProbes(cfg, client, reg, log)
	if err != nil {
		fmt.Fprintf(logOut, "baton: %v\n", err)
		return exitFailed
	}
	apiSrv, err := newScheduleAPI(cfg, s, reg, log)
	if err != nil {
		_ = probes.ln.Close()
		fmt.Fprintf(logOut, "baton: %v\n", err)
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitFailed
	}
	ctx, stop := signalContext(log, signalHooks{second: s.kill, forward: s.forward})
	defer stop()
	stopProbes := probes.serve(log)
	defer stopProbes()
	stopAPI := apiSrv.serve(log)
	defer stopAPI()
	stopReaper := startOrphanReaper(log)
	defer stopReaper()
	log.Info("baton starting in schedule mode", "version", version, "job", cfg.Lock, "identity", cfg.Identity,
		"schedule", s.sched.String(), "time_zone", cfg.Schedule.TimeZone, "max_attempts", cfg.Schedule.MaxAttempts,
		"catch_up", cfg.Schedule.CatchUp, "attempt_deadline", cfg.Schedule.AttemptDeadline.String(),
		"lease_ttl", cfg.LeaseTTL.String(), "redis_addr", cfg.RedisAddrs, "api_addr", apiSrv.ln.Addr().String(),
		"probe_addr", probes.ln.Addr().String())
	s.run(ctx)
	s.warm.close()
	log.Info("baton stopped", "exit_code", exitOK)
	return exitOK
}

// redisClock is Redis server time as of a local monotonic instant.
type redisClock struct{ redis, local time.Time }

// now is Redis time now, by the local monotonic clock since the read.
func (c redisClock) now() time.Time { return c.redis.Add(time.Since(c.local)) }

// readClock reads Redis TIME, trying again every retry() until it
// succeeds or ctx ends. The local instant is the middle of the call.
func (s *scheduler) readClock(ctx context.Context) (redisClock, error) {
	for {
		before := time.Now()
		t, err := s.job.Now(ctx)
		if err == nil {
			after := time.Now()
			return redisClock{redis: t, local: before.Add(after.Sub(before) / 2)}, nil
		}
		if ctx.Err() != nil {
			return redisClock{}, ctx.Err()
		}
		retry := s.retry()
		s.log.Warn("cannot read Redis time; trying again", "err", err, "after", retry.String())
		if !sleep(ctx, retry) {
			return redisClock{}, ctx.Err()
		}
	}
}

// run handles the windows until ctx ends: first the windows missed before
// this replica came up, then each window at its start.
func (s *scheduler) run(ctx context.Context) {
	clk, err := s.readClock(ctx)
	if err != nil {
		return
	}
	now := clk.now()
	s.noteWindow(s.sched.Window(now))
	s.missed(ctx, clk, false)
	var last time.Time // the last window handled
	for ctx.Err() == nil {
		if clk, err = s.readClock(ctx); err != nil {
			return
		}
		start := s.next(clk.now(), last)
		if start.IsZero() {
			s.log.Error("the schedule fires no more", "schedule", s.sched.String())
			<-ctx.Done()
			return
		}
		s.log.Debug("waiting for the next window", "window", runs.WindowName(start), "in", start.Sub(clk.now()).String())
		if !sleep(ctx, start.Sub(clk.now())-warmLead) {
			return
		}
		s.warm.ready()
		if !sleep(ctx, start.Sub(clk.now())) {
			return
		}
		last = start
		s.noteWindow(start)
		if s.window(ctx, clk, start, s.closes(start)) {
			s.missed(ctx, clk, true)
		}
	}
}

// noteWindow reports the window that starts at start, with the one before
// it and the next, to the recorder.
func (s *scheduler) noteWindow(start time.Time) {
	var previous time.Time
	if !start.IsZero() {
		previous = s.sched.Window(start.Add(-time.Nanosecond))
	}
	s.rec.Window(s.job.Name(), previous, start, s.sched.Next(start))
}

// next is the start of the window to handle after last (zero at first),
// at now: the window open now when it opened after last and may still
// run (a replica busy with a run, or waiting for one, until after its
// start joins it late), otherwise the next window to start.
func (s *scheduler) next(now, last time.Time) time.Time {
	start := s.sched.Next(now)
	if last.IsZero() {
		return start // the window open at the start is missed's
	}
	if cur := s.sched.Window(now); cur.After(last) && now.Before(s.closes(cur)) {
		start = cur
	}
	if !start.After(last) { // now, as read from Redis, lags behind last
		start = s.sched.Next(last)
	}
	return start
}

// closes is when the attempts of the window that starts at start end: at
// the next window's start, or --attempt-deadline after start if sooner.
func (s *scheduler) closes(start time.Time) time.Time {
	end := s.sched.Next(start)
	if d := s.cfg.Schedule.AttemptDeadline; d > 0 && start.Add(d).Before(end) {
		end = start.Add(d)
	}
	return end
}

// missed counts the windows up to now that no replica ran: at the first
// count those after the latest window of the job's record, later those
// the record lacks since the last count (a Redis outage leaves them
// before the window run after it); the window open now included unless
// busy (after a run of this replica's, which joins it late, see next) and
// it may still run. It logs them and, under --catch-up last, runs the
// most recent one if it is later than every recorded window, which may
// run until the next window's start. A job with no record has missed
// nothing.
func (s *scheduler) missed(ctx context.Context, clk redisClock, busy bool) {
	info, err := s.job.Inspect(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cannot read the job's record to count missed windows", "err", err)
		}
		return
	}
	if info.LastSuccess != nil {
		s.rec.LastSuccess(s.job.Name(), info.LastSuccess.End)
	}
	until := info.Now
	if cur := s.sched.Window(until); busy && until.Before(s.closes(cur)) {
		until = cur.Add(-time.Nanosecond)
	}
	n, first, latest, newest := s.countMissed(info, s.counted, until)
	if w := s.sched.Window(until); w.After(s.counted) {
		s.counted = w
	}
	if n == 0 {
		return
	}
	s.rec.MissedWindows(s.job.Name(), n)
	s.log.Warn("windows missed: no replica ran them", "job", s.job.Name(), "missed", n,
		"first", runs.WindowName(first), "latest", runs.WindowName(latest), "catch_up", s.cfg.Schedule.CatchUp)
	if s.cfg.Schedule.CatchUp != catchUpLast || !latest.After(newest) {
		return
	}
	s.log.Info("catching up the most recent missed window", "window", runs.WindowName(latest))
	s.window(ctx, clk, latest, s.sched.Next(info.Now))
}

// countMissed counts the windows in (from, the window open at until]
// that the record lacks, at most maxMissedCount, and returns the first
// and the latest of them and the newest window recorded. from is the
// newest window recorded when after is zero (the first count), else
// after, or the oldest window recorded if later: the record tells nothing
// before it. Records of windows that are not times (an API's own names)
// are ignored.
func (s *scheduler) countMissed(info runs.Info, after, until time.Time) (n int, first, latest, newest time.Time) {
	recorded := map[int64]bool{}
	var oldest time.Time
	for _, r := range info.Recent {
		t, err := time.Parse(time.RFC3339, r.Window)
		if err != nil {
			continue
		}
		recorded[t.Unix()] = true
		if t.After(newest) {
			newest = t
		}
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if newest.IsZero() {
		return 0, time.Time{}, time.Time{}, time.Time{}
	}
	from := newest
	if !after.IsZero() {
		from = after
		if oldest.After(after) {
			from = oldest
		}
	}
	for w := s.sched.Next(from); !w.IsZero() && !w.After(until) && n < maxMissedCount; w = s.sched.Next(w) {
		if recorded[w.Unix()] {
			continue
		}
		if n == 0 {
			first = w
		}
		n, latest = n+1, w
	}
	return n, first, latest, newest
}

// window handles the window that starts at start until it succeeds, its
// attempts are used up, it closes (closes, in Redis time) or ctx ends:
// this replica claims it, runs the job when it wins, and otherwise waits
// for the attempt that runs. It reports whether this replica ran the job.
func (s *scheduler) window(ctx context.Context, clk redisClock, start, closes time.Time) (ran bool) {
	name := runs.WindowName(start)
	log := s.log.With("window", name)
	var (
		watcher    *runs.Watcher
		watchTried bool
	)
	defer func() {
		if watcher != nil {
			_ = watcher.Close()
		}
	}()
	for ctx.Err() == nil {
		// Closed: a claim would be refused, or report the attempt that
		// runs on past the close.
		if !clk.now().Before(closes) {
			return ran
		}
		sent := time.Now()
		run, err := s.job.Claim(ctx, name, s.cfg.LeaseTTL, closes)
		var ce *runs.ClaimError
		switch {
		case err == nil:
			ran = true
			result, again := s.execute(ctx, log, run, start, sent)
			s.rec.RunEnded(s.job.Name(), result)
			if result == resultSucceeded {
				// Redis time, as this replica's clock tells it; the
				// record's read after the window (missed) corrects it.
				s.rec.LastSuccess(s.job.Name(), clk.now())
			}
			if !again {
				return ran
			}
			// Failed or lost: claim again, if attempts remain, beside the
			// others.
		case errors.As(err, &ce) && errors.Is(err, runs.ErrRunning):
			if !watchTried {
				// Subscribed after the refusal: claim again at once, so an
				// end announced in between is not missed.
				watchTried = true
				if watcher, err = s.job.Watch(ctx); err != nil && ctx.Err() == nil {
					log.Warn("cannot watch the job's attempts; waiting for the lease alone", "err", err)
				}
				if watcher != nil {
					continue
				}
			}
			wait := min(max(ce.Remaining, time.Millisecond), closes.Sub(clk.now()))
			log.Debug("window running elsewhere", "err", err, "wait", wait.String())
			if watcher != nil {
				if watcher.Wait(ctx, wait) != nil {
					return ran
				}
			} else if !sleep(ctx, wait) {
				return ran
			}
		case ce != nil:
			log.Debug("window not to run here", "state", ce.State, "err", err)
			if errors.Is(err, runs.ErrSucceeded) && ce.Last != nil {
				s.rec.LastSuccess(s.job.Name(), ce.Last.End)
			}
			return ran
		case errors.Is(err, runs.ErrForeign) || errors.Is(err, runs.ErrInvalid):
			log.Error("cannot claim the window", "err", err)
			return ran
		default:
			if ctx.Err() != nil {
				return ran
			}
			retry := s.retry()
			log.Warn("claiming the window failed; trying again", "err", err, "after", retry.String())
			if !sleep(ctx, min(retry, closes.Sub(clk.now()))) {
				return ran
			}
		}
	}
	return ran
}

// retry is the wait before a failed call of the schedule is tried again:
// a tenth of a window, from minScheduleRetry to scheduleRetry, so that a
// window of a second still runs when Redis comes back early in it. The
// window is the one after the local clock's now: its length only, which
// a skewed clock hardly changes.
func (s *scheduler) retry() time.Duration {
	next := s.sched.Next(time.Now())
	if next.IsZero() {
		return scheduleRetry
	}
	return min(scheduleRetry, max(minScheduleRetry, s.sched.Next(next).Sub(next)/10))
}

// sleep waits d on the local monotonic clock; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
