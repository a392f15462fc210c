package supervisor

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestWarmGuardGuardsTheChild: a guard started ahead leads the child's
// group, is brought forward to the term's deadline, and kills the group
// by it as a guard started with the child does; a second child of the
// same Guard starts its own, the warm one being taken.
func TestWarmGuardGuardsTheChild(t *testing.T) {
	const remaining, grace = 300 * time.Millisecond, 200 * time.Millisecond
	setGuard := guarded(t, fixedLeadership{remaining: remaining})
	warm, err := StartWarmGuard([]string{os.Args[0], "-test.run=^TestGuardProcessHelper$"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(warm.Close)
	warmPID := warm.g.pid
	if !warm.Ready() {
		t.Fatal("a warm guard just started is not ready")
	}
	w, lines := output(t)
	s := newTestSupervisor(t, `trap '' TERM; echo "$$ $(cut -d' ' -f5 /proc/$$/stat)"; sleep 1000`, func(o *Options) {
		o.Stdout, o.KillGrace = w, grace
		setGuard(o)
		o.Guard.Warm = warm
	})
	begin := time.Now()
	_, done := lead(t, s, term1)
	_, pgid, _ := pids(t, recv(t, lines, "the child's pids"))
	if pgid != warmPID {
		t.Fatalf("the child is in group %d, want the warm guard's %d", pgid, warmPID)
	}
	if warm.Ready() {
		t.Error("a taken warm guard still says it is ready")
	}
	closed(t, done, "Lead's return after the guard's kill")
	if took := time.Since(begin); took < remaining+grace {
		t.Errorf("the group died %v after the start, before its deadline %v", took, remaining+grace)
	}
	if last := s.State().LastExit; last == nil || last.Signal != syscall.SIGKILL {
		t.Errorf("last exit %+v, want a SIGKILL by the guard's deadline", last)
	}
	if !gone(warmPID) {
		t.Errorf("the warm guard (pid %d) outlived its group", warmPID)
	}
	if g := warm.take(bootNS()); g != nil {
		t.Error("a warm guard served a second child")
	}
}

// TestWarmGuardClosedUnused: Close ends a guard that no child took.
func TestWarmGuardClosedUnused(t *testing.T) {
	guarded(t, fixedLeadership{})
	warm, err := StartWarmGuard([]string{os.Args[0], "-test.run=^TestGuardProcessHelper$"})
	if err != nil {
		t.Fatal(err)
	}
	pid := warm.g.pid
	warm.Close()
	if !gone(pid) || warm.Ready() {
		t.Errorf("after Close: guard gone %v, ready %v", gone(pid), warm.Ready())
	}
	if _, err := StartWarmGuard(nil); err == nil {
		t.Error("StartWarmGuard without a command: no error")
	}
}
