//go:build linux

package chaos

import (
	"fmt"
	"syscall"
	"time"
)

// kindStopBaton is the SIGSTOP of a leading `baton run` alone.
const kindStopBaton = "sigstop baton alone (not its job)"

// awaitJob waits for the running job of l's term under fence, and returns
// its pid.
func (e *env) awaitJob(w *execWatch, l *node, fence uint64) (int, error) {
	deadline := time.Now().Add(slack)
	for {
		if pid, ok := w.running(l.name, fence); ok {
			return pid, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s leads under fence %d without a running job", l.name, fence)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// faultStopBaton stops the leader's baton with SIGSTOP, and nothing else:
// not its job, nor any process between them, as a starved or swapped-out
// baton would be. d exceeds the TTL, so another replica's term, and job,
// begins meanwhile. The job must be dead before the lease can expire,
// although its baton can do nothing: the interval checker finds it beside
// the next term's job otherwise. After SIGCONT the job must be gone within
// kill-grace and slack in any case.
func (e *env) faultStopBaton(w *execWatch, d time.Duration) error {
	l, err := e.findLeader()
	if err != nil {
		return err
	}
	_, fence, _ := e.leaderFence(l)
	job, err := e.awaitJob(w, l, fence)
	if err != nil {
		return err
	}
	e.hist.Fault(kindStopBaton)
	pid := l.cmd.Process.Pid
	e.stop(l)
	if !awaitState(pid, "T", slack) {
		return fmt.Errorf("%s not stopped after SIGSTOP: state %q", l.name, procState(pid))
	}
	time.Sleep(d)
	_, _, werr := e.awaitNewTerm(fence, e.ttl+slack)
	e.cont(l)
	deadline := time.Now().Add(execKillGrace + slack)
	for st := procState(job); st != "" && st != "Z"; st = procState(job) {
		if time.Now().After(deadline) {
			return fmt.Errorf("job %d of %s still there %v after its baton resumed", job, l.name, execKillGrace+slack)
		}
		time.Sleep(time.Millisecond)
	}
	e.hist.Healed(kindStopBaton, slack)
	if werr != nil {
		return fmt.Errorf("while %s was stopped: %w", l.name, werr)
	}
	return nil
}

// descendantsOf lists the descendants of pid, each before its children.
func descendantsOf(pid int) []int {
	var out []int
	queue := childrenOf(pid)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, childrenOf(p)...)
	}
	return out
}

// isJob reports whether pid stamped a start: a job, not a process between
// baton and its job.
func (w *execWatch) isJob(pid int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readLocked()
	return w.jobs[pid] != nil
}

// resume sends SIGCONT to pid.
func resume(pid int) { _ = syscall.Kill(pid, syscall.SIGCONT) }
