package supervisor

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// guardHelperEnv makes TestGuardProcessHelper run RunGuard: the test binary,
// re-executed, is the guard of these tests' children, as baton re-executed
// is in exec mode.
const guardHelperEnv = "SUPERVISOR_TEST_GUARD"

func TestGuardProcessHelper(t *testing.T) {
	if os.Getenv(guardHelperEnv) != "1" {
		t.Skip("the guard of other tests' children")
	}
	os.Exit(RunGuard(os.Stdin, os.Stderr))
}

// fixedLeadership leads term1 with a validity that no renewal extends.
type fixedLeadership struct{ remaining time.Duration }

func (l fixedLeadership) Status() election.Status {
	return election.Status{Leader: true, Fence: term1.Fence, Remaining: l.remaining}
}
func (fixedLeadership) Changed() <-chan struct{} { return nil }

// guarded sets o up with a guard, this test binary, over l.
func guarded(t *testing.T, l Leadership) func(*Options) {
	t.Setenv(guardHelperEnv, "1")
	// A race-enabled binary otherwise sleeps a second at exit.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	return func(o *Options) {
		o.Guard = &Guard{Command: []string{os.Args[0], "-test.run=^TestGuardProcessHelper$"}, Leadership: l}
	}
}

// pids reads "PID PGID [OTHER]" that a child printed.
func pids(t *testing.T, line string) (pid, pgid, other int) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("child printed %q", line)
	}
	pid, _ = strconv.Atoi(f[0])
	pgid, _ = strconv.Atoi(f[1])
	if len(f) > 2 {
		other, _ = strconv.Atoi(f[2])
	}
	if pgid == pid || pgid == 0 {
		t.Fatalf("child %d is in group %d: want its guard's group", pid, pgid)
	}
	return pid, pgid, other
}

// TestGuardKillsTheGroupWhenNoRenewalComes: the term is never renewed and
// Lead's context never ends, as when baton is stopped. The guard alone
// kills the whole group, the background process too, once the validity
// plus KillGrace has passed, and not before; the exit is baton's doing,
// and the guard itself is gone once Lead returns.
func TestGuardKillsTheGroupWhenNoRenewalComes(t *testing.T) {
	const remaining, grace = 300 * time.Millisecond, 200 * time.Millisecond
	w, lines := output(t)
	rec := &recorder{}
	setGuard := guarded(t, fixedLeadership{remaining: remaining})
	s := newTestSupervisor(t, `trap '' TERM; sleep 1000 & echo "$$ $(cut -d' ' -f5 /proc/$$/stat) $!"; wait`, func(o *Options) {
		o.Stdout, o.KillGrace, o.Recorder = w, grace, rec
		setGuard(o)
	})
	begin := time.Now()
	_, done := lead(t, s, term1)
	pid, guardPID, sleepPID := pids(t, recv(t, lines, "the child's pids"))
	closed(t, done, "Lead's return after the guard's kill")
	if took := time.Since(begin); took < remaining+grace {
		t.Errorf("the group died %v after the start, before its deadline %v", took, remaining+grace)
	}
	last := s.State().LastExit
	if last == nil || !last.ByBaton || last.Signal != syscall.SIGKILL || last.PID != pid {
		t.Errorf("last exit %+v, want child %d killed by SIGKILL, by baton", last, pid)
	}
	if !gone(sleepPID) || !gone(guardPID) {
		t.Errorf("after Lead: sleep gone %v, guard gone %v; want both gone", gone(sleepPID), gone(guardPID))
	}
	if _, _, killed, _ := rec.snapshot(); killed != 1 {
		t.Errorf("%d group kills recorded, want 1", killed)
	}
}

// TestGuardLeavesWithItsJob: while the term is valid, a job that exits on
// its own, and one that the term's end stops, leave no guard behind, and
// the guard kills nothing: the statuses are the job's own.
func TestGuardLeavesWithItsJob(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  string
		endTerm bool
		code    int
		byBaton bool
	}{
		{"own exit", `echo "$$ $(cut -d' ' -f5 /proc/$$/stat)"; exit 3`, false, 3, false},
		{"term end", `trap 'exit 0' TERM; echo "$$ $(cut -d' ' -f5 /proc/$$/stat)"; while :; do sleep 0.05; done`, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, lines := output(t)
			setGuard := guarded(t, fixedLeadership{remaining: time.Minute})
			s := newTestSupervisor(t, tc.script, func(o *Options) {
				o.Stdout = w
				setGuard(o)
			})
			cancel, done := lead(t, s, term1)
			_, guardPID, _ := pids(t, recv(t, lines, "the child's pids"))
			if tc.endTerm {
				cancel()
			}
			closed(t, done, "Lead's return")
			last := s.State().LastExit
			if last == nil || last.Code != tc.code || last.ByBaton != tc.byBaton || last.Signal != 0 {
				t.Errorf("last exit %+v, want code %d, by baton %v", last, tc.code, tc.byBaton)
			}
			if !gone(guardPID) {
				t.Errorf("the guard (pid %d) outlived Lead", guardPID)
			}
		})
	}
}

// TestGuardRefusesATermThatIsOver: no child starts for a term whose
// validity has run out.
func TestGuardRefusesATermThatIsOver(t *testing.T) {
	setGuard := guarded(t, notLeading{})
	rec := &recorder{}
	s := newTestSupervisor(t, `exit 0`, func(o *Options) {
		o.Recorder = rec
		setGuard(o)
	})
	s.Lead(context.Background(), term1)
	if started, _, _, _ := rec.snapshot(); started != 0 {
		t.Errorf("%d children started for a term that is over", started)
	}
}

type notLeading struct{}

func (notLeading) Status() election.Status  { return election.Status{} }
func (notLeading) Changed() <-chan struct{} { return nil }
