package supervisor

import (
	"syscall"
	"time"
)

const (
	// groupPollInterval is how often a stop checks whether the rest of a
	// child's group has gone, once the child itself has been reaped: its
	// other members are not baton's children, and nothing signals their
	// end.
	groupPollInterval = 10 * time.Millisecond
	// groupDrainAfterKill bounds the wait for a group after SIGKILL. What
	// survives SIGKILL is stuck in the kernel (uninterruptible sleep) or a
	// zombie that nobody reaps, and waiting longer does not change it.
	groupDrainAfterKill = time.Second
)

// stopGroup ends child c and every live process of its group: SIGTERM to
// the group at once, SIGKILL to the group once KillGrace has run out. It
// returns once c has been reaped and no live process of its group is left
// (or groupDrainAfterKill after SIGKILL). measure records the stop's
// duration: from the end of leadership, or Stop, until then.
func (s *Supervisor) stopGroup(c *child, why string, measure bool) {
	clk := s.opts.Clock
	begin := clk.Now()
	select {
	case <-c.done:
		if c.groupGone() {
			// Gone already: and once its group is empty, the number may
			// in principle be handed to another group, which must not be
			// signalled.
			if measure {
				s.opts.Recorder.Stopped(clk.Since(begin))
			}
			return
		}
	default:
	}
	grace := clk.NewTimer(s.opts.KillGrace)
	defer grace.Stop()
	s.update(func() { s.stopping, s.killAt = true, begin.Add(s.opts.KillGrace) })
	s.log.Info("stopping the child's process group", "pid", c.pid, "why", why, "kill_grace", s.opts.KillGrace)

	s.sendStop(c, syscall.SIGTERM)
	if s.isKilled() {
		s.sendStop(c, syscall.SIGKILL)
	}
	graceC := grace.C()
	var drainUntil time.Time
	kill := func() {
		s.log.Warn("the child's process group outlived the grace; sending SIGKILL", "pid", c.pid)
		s.sendStop(c, syscall.SIGKILL)
		graceC = nil
		drainUntil = clk.Now().Add(groupDrainAfterKill)
	}

	// The child first: its reap is an event.
	for reaped := false; !reaped; {
		select {
		case <-c.done:
			reaped = true
		case <-graceC:
			kill()
		}
	}
	// Then what is left of its group (consul's bug #2022 was to stop at the
	// shell and leave its children running).
	for c.groupAlive() {
		if graceC == nil && !clk.Now().Before(drainUntil) {
			s.log.Error("processes of the child's group survived SIGKILL", "pgid", c.pgid)
			break
		}
		poll := clk.NewTimer(groupPollInterval)
		select {
		case <-poll.C():
		case <-graceC:
			kill()
		}
		poll.Stop()
	}
	if measure {
		d := clk.Since(begin)
		s.opts.Recorder.Stopped(d)
		s.log.Info("child stopped", "pid", c.pid, "took", d)
	}
}
