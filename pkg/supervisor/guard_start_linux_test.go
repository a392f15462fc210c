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

// guardChildren lists the live guard processes that this test process
// started: children of it that run TestGuardProcessHelper.
func guardChildren(t *testing.T) []int {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 2 || f[1] != self {
			continue
		}
		if cmd, _ := os.ReadFile(d + "/cmdline"); strings.Contains(string(cmd), "TestGuardProcessHelper") {
			pid, _ := strconv.Atoi(filepath.Base(d))
			out = append(out, pid)
		}
	}
	return out
}

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
		o.KillGrace, o.Recorder = time.Millisecond, rec
		ex = exits(o)
		setGuard(o)
	})
	stall.s = s
	_, done := lead(t, s, term1)
	// The guard appears, kills its group (itself) by its deadline, and is
	// reaped; a separate process, only visible through /proc.
	deadline := time.Now().Add(guard)
	for seen := false; ; time.Sleep(5 * time.Millisecond) {
		n := len(guardChildren(t))
		if n > 0 {
			seen = true
		}
		if seen && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guard never came and went (seen %v)", seen)
		}
	}
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
