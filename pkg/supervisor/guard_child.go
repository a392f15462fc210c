package supervisor

import (
	"errors"
	"os/exec"
	"syscall"

	"github.com/baton-dev/baton/pkg/election"
)

// errTermOver is why no child starts when its term's validity has already
// run out: its Lead's context ends next.
var errTermOver = errors.New("supervisor: the term is over")

// check validates g and resolves its program.
func (g *Guard) check() (path string, err error) {
	if err := guardSupported(); err != nil {
		return "", invalidBecause(err, "Guard", "is supported on Linux only")
	}
	if len(g.Command) == 0 || g.Command[0] == "" {
		return "", invalid("Guard.Command", "is required: the program that runs RunGuard")
	}
	if g.Leadership == nil {
		return "", invalid("Guard.Leadership", "is required: the elector whose terms it guards")
	}
	path, err = exec.LookPath(g.Command[0])
	if err != nil {
		return "", invalidBecause(err, "Guard.Command", "names no executable program (%q)", g.Command[0])
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
	if g := s.opts.Guard.Warm.take(first); g != nil {
		return g, nil
	}
	return startGuard(s.guardPath, s.opts.Guard.Command, first)
}

// feedGuard sends c's guard every later deadline of c's term, at each
// change of the leadership, until stop is closed. When the term ends it
// brings the deadline forward to KillGrace from then, the supervisor's own
// SIGKILL: after a resign or a shutdown the elector releases the lock once
// the job has stopped, or after ReleaseTimeout, which KillGrace must fit
// in, and the guard then kills in time even if baton is starved or stopped
// between that release and its own SIGKILL. After a deadline step-down the
// last deadline is already the earlier one.
func (s *Supervisor) feedGuard(c *child, term election.Term, stop <-chan struct{}) {
	l := s.opts.Guard.Leadership
	warned := false
	for {
		changed := l.Changed()
		send := c.guard.send
		ns, ok := s.guardDeadline(term)
		if !ok {
			send, ns = c.guard.lower, bootNS()+int64(s.opts.KillGrace)
		}
		if err := send(ns); err != nil && !warned {
			warned = true
			s.log.Error("the job's guard does not take its deadline; it will kill the job at the last one it got", "pid", c.pid, "err", err)
		}
		select {
		case <-changed:
		case <-stop:
			return
		}
	}
}

// watchGuard kills c's group at once when its guard dies before c does
// and without being told that the group is gone (kill -9, the OOM killer):
// the job must not run on unguarded, where a stopped baton would let it
// outlive the lease. The exit is then the job's own, not baton's, so that
// the policy decides what follows: a term does not go on with no job. A
// guard that killed the group itself, by its deadline, needs nothing more.
func (s *Supervisor) watchGuard(c *child) {
	select {
	case <-c.done:
		return
	case <-c.guard.gone():
	}
	if _, killed := c.guard.killedBy(); killed || c.guard.told() {
		return
	}
	s.mu.Lock()
	if c.exited || c.killed {
		// Reaped soon, or baton's own SIGKILL took the guard along.
		s.mu.Unlock()
		return
	}
	c.killed = true
	// c has not been reaped, so its group, and the number, still exist.
	err := signalGroup(c.pgid, syscall.SIGKILL)
	s.mu.Unlock()
	if err == nil {
		s.opts.Recorder.GroupKilled()
	}
	s.log.Error("the job's guard died; killing the job's process group, which must not run unguarded", "pid", c.pid, "pgid", c.pgid, "guard_pid", c.guard.pid, "err", err)
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
