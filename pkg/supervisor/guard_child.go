package supervisor

import (
	"errors"
	"os/exec"

	"github.com/baton-dev/baton/pkg/election"
)

// errTermOver is why no child starts when its term's validity has already
// run out: its Lead's context ends next.
var errTermOver = errors.New("supervisor: the term is over")

// check validates g and resolves its program.
func (g *Guard) check() (path string, err error) {
	if err := guardSupported(); err != nil {
		return "", &OptionsError{Field: "Guard", Rule: "is supported on Linux only", Err: err}
	}
	if len(g.Command) == 0 || g.Command[0] == "" {
		return "", &OptionsError{Field: "Guard", Rule: "needs a Command: the program that runs RunGuard"}
	}
	if g.Leadership == nil {
		return "", &OptionsError{Field: "Guard", Rule: "needs a Leadership: the elector whose terms it guards"}
	}
	path, err = exec.LookPath(g.Command[0])
	if err != nil {
		return "", &OptionsError{Field: "Guard", Rule: "Command names no executable program", Err: err}
	}
	return path, nil
}

// guardDeadline is the moment, in ns on CLOCK_BOOTTIME, by which term's
// job must be dead unless the term is renewed: the term's validity plus
// KillGrace, which the sidecar checks against the lease's TTL. CLOCK_BOOTTIME
// is read before the status, so the deadline can only come out early. ok is
// false when the term no longer leads.
func (s *Supervisor) guardDeadline(term election.Term) (ns int64, ok bool) {
	now := bootNS()
	st := s.opts.Guard.Leadership.Status()
	if !st.Leader || st.Fence != term.Fence {
		return 0, false
	}
	return now + int64(st.Remaining+s.opts.KillGrace), true
}

// startGuard starts the guard of the child that is about to start for
// term, with the term's current deadline.
func (s *Supervisor) startGuard(term election.Term) (*guardProc, error) {
	first, ok := s.guardDeadline(term)
	if !ok {
		return nil, errTermOver
	}
	return startGuard(s.guardPath, s.opts.Guard.Command, first)
}

// feedGuard sends c's guard every later deadline of c's term, at each
// change of the leadership, until stop is closed. When the term ends it
// sends nothing more, and the guard kills at the last deadline it got,
// unless the supervisor has stopped the group first.
func (s *Supervisor) feedGuard(c *child, term election.Term, stop <-chan struct{}) {
	l := s.opts.Guard.Leadership
	warned := false
	for {
		changed := l.Changed()
		if ns, ok := s.guardDeadline(term); ok {
			if err := c.guard.send(ns); err != nil && !warned {
				warned = true
				s.log.Error("the job's guard does not take its deadline; it will kill the job at the last one it got", "pid", c.pid, "err", err)
			}
		}
		select {
		case <-changed:
		case <-stop:
			return
		}
	}
}

// guardKilled notes that c's guard killed its group: by baton's own
// deadline, so the exit is baton's doing, not the job's.
func (s *Supervisor) guardKilled(c *child, why string) {
	s.mu.Lock()
	c.byBaton = true
	first := !c.killed
	c.killed = true
	s.mu.Unlock()
	if first {
		s.opts.Recorder.GroupKilled()
	}
	s.log.Warn("the job's guard killed its process group", "pid", c.pid, "pgid", c.pgid, "why", why)
}

// groupAlive reports whether a live process of c's group is left, the
// guard aside.
func (c *child) groupAlive() bool {
	if c.guard != nil {
		return groupAliveExcept(c.pgid, c.guard.pid)
	}
	return groupAlive(c.pgid)
}

// groupGone reports, once c has been reaped, whether nothing of its group
// is left to stop. Without a guard the group's number may then be reused,
// and must not be signalled; a guard holds the number until it is told.
func (c *child) groupGone() bool {
	if c.guard != nil {
		return !c.groupAlive()
	}
	return !groupExists(c.pgid)
}

// endGuard stops feeding c's guard, tells it the group is gone, and waits
// for it to exit.
func (c *child) endGuard() {
	if c.guard == nil {
		return
	}
	close(c.feedStop)
	<-c.feedDone
	c.guard.finish()
}
