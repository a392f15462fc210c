package supervisor

import (
	"syscall"
	"testing"
	"time"
)

// TestGuardDeathEndsTheJob: the guard is killed (kill -9, the OOM killer)
// while the term is valid for another hour. The job must not run on
// unguarded, where a stopped baton would let it outlive the lease: baton
// kills the whole group at once, and the exit is the job's own, so that
// the policy decides what follows (here, exit) instead of leaving a leader
// that runs nothing.
func TestGuardDeathEndsTheJob(t *testing.T) {
	w, lines := output(t)
	rec := &recorder{}
	setGuard := guarded(t, fixedLeadership{remaining: time.Hour})
	var ex <-chan Exit
	s := newTestSupervisor(t, `trap '' TERM; sleep 1000 & echo "$$ $(cut -d' ' -f5 /proc/$$/stat) $!"; wait`, func(o *Options) {
		o.Stdout, o.Recorder = w, rec
		ex = exits(o)
		setGuard(o)
	})
	_, done := lead(t, s, term1)
	pid, guardPID, sleepPID := pids(t, recv(t, lines, "the child's pids"))
	if err := syscall.Kill(guardPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	closed(t, done, "Lead's return after the guard died")
	got := recv(t, ex, "OnChildExit")
	if got.Policy != OnExitExit || got.Status.PID != pid || got.Status.Signal != syscall.SIGKILL || got.Status.ByBaton {
		t.Errorf("exit %+v, want child %d's own exit, killed by SIGKILL", got, pid)
	}
	if !gone(sleepPID) {
		t.Errorf("the job's background process (pid %d) outlived its guard", sleepPID)
	}
	if _, _, killed, _ := rec.snapshot(); killed != 1 {
		t.Errorf("%d group kills recorded, want 1", killed)
	}
}
