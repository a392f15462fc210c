package supervisor

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// pipeWaitDelay bounds how long the reap waits for the child's output
// pipes to close after it exited, when Stdout or Stderr is not an *os.File:
// a process that left the group may hold them open for ever.
const pipeWaitDelay = time.Second

// child is one run of the command.
type child struct {
	cmd     *exec.Cmd
	pid     int
	fence   uint64
	started time.Time
	// pgid is the child's process group: its own PID, or its guard's
	// when it has one (Options.Guard).
	pgid int
	// guard kills the group should baton stall; nil without
	// Options.Guard. feedStop ends its feed, which closes feedDone.
	guard    *guardProc
	feedStop chan struct{}
	feedDone chan struct{}

	// Guarded by Supervisor.mu.
	exited  bool // the child has exited: no more signals to its PID
	byBaton bool // baton told it to stop before it exited
	killed  bool // SIGKILL has been sent to its group

	// done is closed once the child has been reaped; status is set then.
	done   chan struct{}
	status ExitStatus
}

// start starts the command for term. The error is errStopped after Stop or
// Kill, or why the program could not be started.
func (s *Supervisor) start(term election.Term) (*child, error) {
	cmd := &exec.Cmd{
		Path:        s.path,
		Args:        append([]string(nil), s.opts.Command...),
		Env:         s.environ(term),
		Stdin:       s.opts.Stdin,
		Stdout:      s.opts.Stdout,
		Stderr:      s.opts.Stderr,
		SysProcAttr: sysProcAttr(),
		WaitDelay:   pipeWaitDelay,
	}
	c := &child{cmd: cmd, fence: term.Fence, done: make(chan struct{})}
	if s.opts.Guard != nil {
		// The guard first, as the group's leader: the child joins its
		// group, and is guarded from its first instruction on.
		g, err := s.startGuard(term)
		if err != nil {
			return nil, err
		}
		c.guard = g
		joinGroup(cmd.SysProcAttr, g.pid)
	}
	started := make(chan error, 1)
	go s.keep(c, started)
	if err := <-started; err != nil {
		if c.guard != nil {
			// A guard that killed by its deadline before the fork (baton
			// stalled in between) leaves no group to join: the term is
			// over, which is no failure of the job's.
			_, over := c.guard.killedBy()
			c.guard.finish()
			if over {
				s.log.Warn("not starting the child: the term's deadline passed while it was being started", "fence", term.Fence)
				return nil, errTermOver
			}
		}
		return nil, err
	}
	if c.guard != nil {
		c.feedStop, c.feedDone = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(c.feedDone)
			s.feedGuard(c, term, c.feedStop)
		}()
		go s.watchGuard(c)
	}
	s.opts.Recorder.ChildStarted()
	s.log.Info("child started", "pid", c.pid, "fence", term.Fence)
	return c, nil
}

// keep starts c, reports the start's outcome on started, and reaps c.
//
// It runs on its own goroutine, locked to its OS thread from before the
// start until after the reap. The parent-death signal (Pdeathsig) is sent
// when the thread that forked the child exits, not the process: Go ends a
// thread when a goroutine that locked it returns without unlocking, and a
// child forked from such a thread would be SIGKILLed in the middle of its
// term (go.dev/issue/27505). A thread locked here runs nothing else, so it
// lives exactly as long as baton does, or until the child has been reaped.
func (s *Supervisor) keep(c *child, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// s.mu is held across the start, so that Stop and Kill either come
	// before it (nothing starts) or find the child in s.cur.
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		started <- errStopped
		return
	}
	if err := startRegistered(c.cmd); err != nil {
		s.mu.Unlock()
		started <- err
		return
	}
	c.pid = c.cmd.Process.Pid
	c.pgid = c.pid
	if c.guard != nil {
		c.pgid = c.guard.pid
		// The guard writes its report before it kills: with none yet, its
		// kill, if any, comes after the child joined the group, and takes
		// it along. With one, the kill may have come before the fork, and
		// the child may have joined a dead guard's group (its zombie's):
		// it must not run on unguarded, past the term's deadline.
		if _, killed := c.guard.killedBy(); killed {
			c.killed, c.byBaton = true, true
			_ = signalGroup(c.pgid, syscall.SIGKILL)
			s.opts.Recorder.GroupKilled()
		}
	}
	c.started = s.opts.Clock.Now()
	s.cur = c
	s.starts++
	s.nextStart = time.Time{}
	s.notifyLocked()
	s.mu.Unlock()
	started <- nil

	waitExited(c.pid)
	if c.guard != nil {
		if why, ok := c.guard.killedBy(); ok {
			s.guardKilled(c, why)
		}
	}
	s.markExited(c)
	err := c.cmd.Wait()
	s.markExited(c) // where waitExited cannot wait without reaping
	unregister(c.pid)
	c.status = s.exitStatus(c, err)
	close(c.done)
}

func (s *Supervisor) markExited(c *child) {
	s.mu.Lock()
	c.exited = true
	s.mu.Unlock()
}

// exitStatus reads how c ended from what Wait returned.
func (s *Supervisor) exitStatus(c *child, err error) ExitStatus {
	s.mu.Lock()
	st := ExitStatus{PID: c.pid, Code: -1, ByBaton: c.byBaton, Started: c.started, Ended: s.opts.Clock.Now()}
	s.mu.Unlock()
	if ps := c.cmd.ProcessState; ps != nil {
		st.Code, st.Signal = decodeWait(ps)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.As(err, &exitErr):
	case errors.Is(err, exec.ErrWaitDelay):
		s.log.Warn("child exited but its output stayed open; a process that left its group may still run", "pid", c.pid)
	default:
		s.log.Error("reaping the child failed", "pid", c.pid, "err", err)
	}
	return st
}

// environ is the child's environment: baton's own without its BATON_*
// configuration, then Options.Env, then the term's variables.
func (s *Supervisor) environ(term election.Term) []string {
	base := os.Environ()
	env := make([]string, 0, len(base)+len(s.opts.Env)+5)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "BATON_") {
			env = append(env, kv)
		}
	}
	env = append(env, s.opts.Env...)
	env = append(env,
		EnvLock+"="+s.opts.Lock,
		EnvIdentity+"="+s.opts.Identity,
		EnvFence+"="+strconv.FormatUint(term.Fence, 10),
		EnvTermStart+"="+term.Start.UTC().Format(time.RFC3339Nano),
	)
	if s.opts.APIURL != "" {
		env = append(env, EnvAPIURL+"="+s.opts.APIURL)
	}
	return env
}

// sendStop sends SIGTERM or SIGKILL to c's whole group; SIGKILL at most
// once, and counted.
func (s *Supervisor) sendStop(c *child, sig syscall.Signal) {
	s.mu.Lock()
	if sig == syscall.SIGKILL {
		if c.killed {
			s.mu.Unlock()
			return
		}
		c.killed = true
	}
	if !c.exited {
		c.byBaton = true
	}
	err := signalGroup(c.pgid, sig)
	s.mu.Unlock()
	switch {
	case err == nil:
		if sig == syscall.SIGKILL {
			s.opts.Recorder.GroupKilled()
		}
	case errors.Is(err, syscall.ESRCH):
		// The whole group is gone already.
	default:
		s.log.Error("signalling the child's process group failed", "pid", c.pid, "pgid", c.pgid, "signal", sig.String(), "err", err)
	}
}
