package supervisor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// TestGuardDeadBeforeTheChildStarts: baton stalls between the start of
// the guard and the child's fork, for longer than the term's validity plus
// KillGrace (here the supervisor's lock is held instead). The guard kills
// its group, itself alone, and is reaped. The child must then not start:
// the term is over. It is not a start failure either, which under
// OnExitExit would end baton with 126 instead of campaigning again.
func TestGuardDeadBeforeTheChildStarts(t *testing.T) {
	rec := &recorder{}
	var s *Supervisor
	stall := &stallingLeadership{fixedLeadership: fixedLeadership{remaining: time.Millisecond}}
	setGuard := guarded(t, stall)
	var ex <-chan Exit
	s = newTestSupervisor(t, `exit 0`, func(o *Options) {
		// Time enough for the guard to say it is ready (startGuard waits
		// for that until the first deadline), so that the stall falls
		// between its start and the child's fork.
		o.KillGrace, o.Recorder = 300*time.Millisecond, rec
		ex = exits(o)
		setGuard(o)
	})
	stall.s = s
	// The guard writes its PID, then becomes the test binary's guard.
	pidFile := filepath.Join(t.TempDir(), "guard.pid")
	g := s.opts.Guard
	g.Command = []string{"sh", "-c", `echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec "$@"`, pidFile, os.Args[0], "-test.run=^TestGuardProcessHelper$"}
	if s.guardPath, _ = g.check(); s.guardPath == "" {
		t.Fatal("no sh")
	}
	_, done := lead(t, s, term1)
	unlocked := false
	t.Cleanup(func() { // before lead's, which needs the lock
		if !unlocked {
			s.mu.Unlock()
		}
	})
	// The guard kills its group (itself) by its deadline, and is reaped:
	// a separate process, only visible through its PID.
	deadline := time.Now().Add(guard)
	for {
		b, err := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && gone(pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guard never came and went (pid file: %q, %v)", b, err)
		}
		time.Sleep(5 * time.Millisecond) // another process's pace
	}
	unlocked = true
	s.mu.Unlock() // baton runs again
	closed(t, done, "Lead's return")
	select {
	case got := <-ex:
		t.Errorf("OnChildExit called with %+v: the term was over, nothing should have started or failed", got)
	default:
	}
	if last := s.State().LastExit; last != nil {
		t.Errorf("last exit %+v (start error %v), want none: the term was over", last, last.StartErr)
	}
	if started, exited, _, _ := rec.snapshot(); started != 0 || len(exited) != 0 {
		t.Errorf("%d starts and %d exits recorded, want none", started, len(exited))
	}
}

// stallingLeadership is fixedLeadership whose first read, the guard's
// first deadline, takes the supervisor's lock on the way out: the child's
// start then waits until the test lets it go, as if baton were stopped
// between the guard's start and the child's fork.
type stallingLeadership struct {
	fixedLeadership
	s    *Supervisor
	once sync.Once
}

func (l *stallingLeadership) Status() election.Status {
	l.once.Do(l.s.mu.Lock)
	return l.fixedLeadership.Status()
}
