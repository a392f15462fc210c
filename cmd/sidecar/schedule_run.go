package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/runs"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// One run of a scheduled job: the child, under supervisor's process-group
// machinery and the guard; the watchdog that renews the run's lease; and
// the record of its outcome.

// execute runs the job for run, with a watchdog on its lease, records
// its outcome and returns its result (resultSucceeded and the rest); sent
// is the local time taken before the claim. It reports whether to claim
// the window again: after a failure, or a lost lease, not after the job
// exited 0, even when that could not be recorded.
func (s *scheduler) execute(ctx context.Context, log *slog.Logger, run *runs.Run, start, sent time.Time) (result string, again bool) {
	log = log.With("run_id", run.ID, "attempt", run.Attempt)
	lease := newRunLeadership(run.Fence, sent.Add(s.cfg.RenewDeadline))
	sup, err := s.supervisor(log, []string{
		envRunJob + "=" + s.job.Name(),
		envRunWindow + "=" + runs.WindowName(start),
		envRunID + "=" + run.ID,
		envRunAttempt + "=" + strconv.Itoa(run.Attempt),
	}, runGuard(lease, s.warm.take()))
	if err != nil { // checked at start-up: the program vanished since
		log.Error("cannot run the job", "err", err)
		return s.complete(log, run, runs.Failed, resultFailed), true
	}
	log.Info("running the window's job")
	jobCtx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	context.AfterFunc(jobCtx, lease.end)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	var lost atomic.Bool
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if s.watchdog(watchCtx, log, run, sent, lease) {
			lost.Store(true)
			stopJob()
		}
	}()
	s.setCurrent(sup, run)
	sup.Lead(jobCtx, election.Term{Fence: run.Fence, Start: run.Start})
	s.setCurrent(nil, nil)
	stopWatch()
	<-watched

	exit := sup.State().LastExit
	switch {
	case lost.Load():
		// Any replica, this one too, may retry once the lease could
		// have expired.
		log.Error("the run's lease was lost: the job was stopped, and its attempt is not recorded")
		return resultLost, ctx.Err() == nil
	case exit == nil || exit.ByBaton:
		// Stopped at shutdown, or not started: failed, so that another
		// replica retries at once. Stopped otherwise, its guard stopped
		// it at the lease's deadline: lost.
		result = resultLost
		if ctx.Err() != nil {
			result = resultCanceled
		}
		return s.complete(log, run, runs.Failed, result), ctx.Err() == nil
	case exit.StartErr == nil && exit.ExitCode() == 0:
		return s.complete(log, run, runs.Succeeded, resultSucceeded), false
	}
	log.Warn("the job failed", "status", exit.String())
	return s.complete(log, run, runs.Failed, resultFailed), ctx.Err() == nil
}

// supervisor is the supervisor of one run of the job, whose environment
// adds env.
func (s *scheduler) supervisor(log *slog.Logger, env []string, guard *supervisor.Guard) (*supervisor.Supervisor, error) {
	return supervisor.New(supervisor.Options{
		Command:   s.cfg.Exec.Command,
		Env:       env,
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Lock:      s.cfg.Lock,
		Identity:  s.cfg.Identity,
		KillGrace: s.cfg.Exec.KillGrace,
		OnExit:    supervisor.OnExitExit,
		Guard:     guard,
		Logger:    log,
	})
}

// complete records run's end, trying again within --release-timeout while
// Redis does not answer, and returns result, or resultLost when the end
// could not be recorded (a canceled run stays canceled: it ended with the
// replica either way).
func (s *scheduler) complete(log *slog.Logger, run *runs.Run, status runs.Status, result string) string {
	until := time.Now().Add(s.cfg.ReleaseTimeout)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), until)
		err := run.Complete(ctx, status)
		cancel()
		switch {
		case err == nil:
			log.Info("run recorded", "status", string(status))
			return result
		case errors.Is(err, runs.ErrStale), !time.Now().Add(scheduleRetry / 4).Before(until):
			log.Error("cannot record the run", "status", string(status), "err", err)
			if result == resultCanceled {
				return result
			}
			return resultLost
		}
		log.Warn("recording the run failed; trying again", "err", err)
		time.Sleep(scheduleRetry / 4)
	}
}

// watchdog renews run's lease every --renew-interval until ctx ends. It
// reports true when the lease is lost: a renewal was refused, or none
// succeeded within --renew-deadline of the send time of the last one that
// did (of the claim, sent, at first). The lease then still holds for
// --lease-ttl minus --renew-deadline, in which the job's stop fits. Each
// renewal moves lease's deadline, which the job's guard enforces.
func (s *scheduler) watchdog(ctx context.Context, log *slog.Logger, run *runs.Run, sent time.Time, lease *runLeadership) (lost bool) {
	interval, deadline := s.cfg.RenewInterval, sent.Add(s.cfg.RenewDeadline)
	t := time.NewTimer(time.Until(sent.Add(interval)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		now := time.Now()
		if !now.Before(deadline) {
			log.Error("no renewal of the run's lease within the renew deadline", "renew_deadline", s.cfg.RenewDeadline.String())
			return true
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		err := run.Renew(rctx)
		cancel()
		switch {
		case err == nil:
			deadline = now.Add(s.cfg.RenewDeadline)
			lease.renewed(deadline)
			t.Reset(time.Until(now.Add(interval)))
		case errors.Is(err, runs.ErrStale):
			log.Error("the run's lease renewal was refused", "err", err)
			return true
		case ctx.Err() != nil:
			return false
		default:
			log.Warn("renewing the run's lease failed; trying again", "err", err)
			t.Reset(min(interval/4, time.Until(deadline)))
		}
	}
}

// setCurrent notes the running job's supervisor, for signals, and its
// run, for /leader.
func (s *scheduler) setCurrent(sup *supervisor.Supervisor, run *runs.Run) {
	s.mu.Lock()
	s.cur = sup
	s.mu.Unlock()
	s.running.Store(run)
}

// kill kills the running job's process group at once: the second signal.
func (s *scheduler) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.Kill()
	}
}

// forward passes SIGHUP, SIGUSR1 and SIGUSR2 to the running job.
func (s *scheduler) forward(sig os.Signal) {
	s.mu.Lock()
	sup := s.cur
	s.mu.Unlock()
	if sup == nil {
		return
	}
	if err := sup.Signal(sig); err != nil && !errors.Is(err, supervisor.ErrNoChild) {
		s.log.Warn("forwarding a signal to the job failed", "signal", sig.String(), "err", err)
	}
}
