package supervisor

import (
	"context"
	"errors"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// Lead runs the command for one term; its signature is election's
// OnStartedLeading. It starts the child in a process group of its own, with
// the term in its environment, and returns once no process of the group is
// left: when ctx ends (after SIGTERM, SIGKILL once KillGrace has run out, and
// the reap), or when the child exits on its own under OnExitExit or
// OnExitRecampaign (after Options.OnChildExit). Under OnExitRestart it starts
// the child again, after the backoff, until ctx ends. After Stop, Kill or a
// job finished under OnExitExit it returns at once, starting nothing.
//
// One child runs at a time: a Lead called while another still stops its
// child waits for it (or for its own ctx to end).
func (s *Supervisor) Lead(ctx context.Context, term election.Term) {
	select {
	case s.run <- struct{}{}:
	case <-ctx.Done():
		return
	case <-s.halted:
		return
	}
	defer func() { <-s.run }()
	log := s.log.With("fence", term.Fence)
	for {
		if ctx.Err() != nil {
			return
		}
		if st := s.State(); st.Stopped || st.Finished {
			log.Info("not starting the child: the supervisor has stopped", "stopped", st.Stopped, "finished", st.Finished)
			return
		}
		status, own := s.runOnce(ctx, term)
		if !own {
			return
		}
		wait := s.backoff(status)
		switch s.opts.OnExit {
		case OnExitRestart:
			log.Info("child exited; restarting it", "status", status.String(), "after", wait)
			if !s.awaitRestart(ctx, wait) {
				return
			}
			continue
		case OnExitRecampaign:
			if ctx.Err() != nil {
				return // the term is over anyway; the elector campaigns again
			}
			log.Info("child exited; ending the term's work", "status", status.String(), "hold_off", wait)
			s.report(ctx, Exit{Term: term, Status: status, Policy: OnExitRecampaign, HoldOff: wait})
		default:
			s.update(func() { s.finished = true })
			log.Info("child exited; the job is finished", "status", status.String(), "exit_code", status.ExitCode())
			s.report(ctx, Exit{Term: term, Status: status, Policy: OnExitExit})
		}
		return
	}
}

// runOnce starts the child and waits until it has gone, stopping it when
// ctx ends or on Stop. own is true when it exited of its own accord (or
// could not start), false when baton stopped it.
func (s *Supervisor) runOnce(ctx context.Context, term election.Term) (status ExitStatus, own bool) {
	c, err := s.start(term)
	if errors.Is(err, errStopped) || errors.Is(err, errTermOver) {
		return ExitStatus{}, false
	}
	if err != nil {
		s.log.Error("child could not be started", "fence", term.Fence, "err", err)
		status = ExitStatus{Code: -1, StartErr: err, Ended: s.opts.Clock.Now()}
		s.update(func() { s.last = &status })
		s.opts.Recorder.ChildExited(status)
		return status, true
	}
	select {
	case <-c.done:
		if c.groupAlive() {
			s.stopGroup(c, "the child exited, and its process group lives on", false)
		}
	case <-ctx.Done():
		s.stopGroup(c, "leadership ended", true)
	case <-s.halted:
		s.stopGroup(c, "stop requested", true)
	}
	c.endGuard()
	status = c.status
	s.update(func() {
		if s.cur == c {
			s.cur = nil
		}
		s.last = &status
		s.stopping, s.killAt = false, time.Time{}
	})
	s.opts.Recorder.ChildExited(status)
	s.log.Info("child exited", "pid", status.PID, "fence", term.Fence, "status", status.String(),
		"by_baton", status.ByBaton, "ran", status.Ended.Sub(status.Started))
	return status, !status.ByBaton
}

// backoff is the wait that follows a child's own exit: none after the
// first exit and after a run of MaxRestartBackoff or longer; then
// RestartBackoff, doubling with each exit in a row, up to
// MaxRestartBackoff.
func (s *Supervisor) backoff(status ExitStatus) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !status.Started.IsZero() && status.Ended.Sub(status.Started) >= s.opts.MaxRestartBackoff {
		s.quick = 0
	}
	s.quick++
	if s.quick == 1 {
		return 0
	}
	wait := s.opts.RestartBackoff
	for i := 2; i < s.quick && wait < s.opts.MaxRestartBackoff; i++ {
		wait *= 2
	}
	return min(wait, s.opts.MaxRestartBackoff)
}

// awaitRestart waits out a restart backoff on the clock. It reports false
// when ctx ended or the supervisor stopped first.
func (s *Supervisor) awaitRestart(ctx context.Context, wait time.Duration) bool {
	if wait > 0 {
		clk := s.opts.Clock
		t := clk.NewTimer(wait)
		defer t.Stop()
		s.update(func() { s.nextStart = clk.Now().Add(wait) })
		select {
		case <-t.C():
		case <-ctx.Done():
			s.update(func() { s.nextStart = time.Time{} })
			return false
		case <-s.halted:
			s.update(func() { s.nextStart = time.Time{} })
			return false
		}
	}
	if ctx.Err() != nil {
		return false
	}
	s.update(func() { s.restarts++ })
	return true
}

// report hands an exit that ended the term's work to OnChildExit.
func (s *Supervisor) report(ctx context.Context, ex Exit) {
	if s.opts.OnChildExit != nil {
		s.opts.OnChildExit(ctx, ex)
	}
}
