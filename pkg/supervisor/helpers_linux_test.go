package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/election"
)

// guard bounds every wait in these tests, so that a broken supervisor
// fails the test instead of hanging it. It is never what makes a test pass.
const guard = 10 * time.Second

// ExampleRedisAddr is where TestMain stores the address of the
// redis-server it starts for the examples; package supervisor_test points
// it at its own variable.
var ExampleRedisAddr = new(string)

// helperEnv names the role of a re-executed test binary (see TestMain).
const helperEnv = "BATON_SUPERVISOR_TEST_HELPER"

// TestMain runs the helper roles of re-executed test binaries, and makes
// the test process a child subreaper: the grandchildren of the supervised
// children are then handed to it, as they are to baton as PID 1, instead
// of to this machine's init, which may never reap them.
func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role))
	}
	// The main thread is never ended, so a child forked from it could not
	// show what a thread's end does (TestChildOutlivesExitingThreads):
	// keep it to the main goroutine, which only waits for the tests.
	runtime.LockOSThread()
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, "supervisor tests:", err)
		os.Exit(1)
	}
	os.Exit(redistest.Main(m, ExampleRedisAddr))
}

func runHelper(role string) int {
	var err error
	switch role {
	case "pdeathsig":
		err = helperPdeathsig()
	case "pid1":
		err = helperPID1()
	default:
		err = fmt.Errorf("unknown helper role %q", role)
	}
	if err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	fmt.Println("ok")
	return 0
}

var term1 = election.Term{Fence: 1, Start: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)}

// newTestSupervisor builds a supervisor for a shell script, with test
// identities filled in.
func newTestSupervisor(t *testing.T, script string, mutate func(*Options)) *Supervisor {
	t.Helper()
	o := Options{Command: []string{"sh", "-c", script}, Lock: "job", Identity: "replica-1"}
	if mutate != nil {
		mutate(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// lead runs s.Lead in a goroutine; the channel is closed when it returns.
// The cleanup cancels the term and waits for Lead.
func lead(t *testing.T, s *Supervisor, term election.Term) (cancel context.CancelFunc, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		s.Lead(ctx, term)
	}()
	t.Cleanup(func() {
		cancel()
		s.Kill() // a failed test must not leave children behind
		select {
		case <-ch:
		case <-time.After(guard):
			t.Error("Lead did not return after cancel and Kill")
		}
	})
	return cancel, ch
}

// output returns a pipe's write end, for a child's stdout, and the lines
// read from it.
func output(t *testing.T) (*os.File, <-chan string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { r.Close(); w.Close() })
	return w, lines
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("channel closed waiting for %s", what)
		}
		return v
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func closed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func notClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("unexpected: %s", what)
	default:
	}
}

// waitState blocks until cond holds, re-checking at each change of state.
func waitState(t *testing.T, s *Supervisor, what string, cond func(State) bool) State {
	t.Helper()
	deadline := time.After(guard)
	for {
		ch := s.Changed()
		if st := s.State(); cond(st) {
			return st
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; state %+v", what, s.State())
		}
	}
}

// gone reports whether no process, not even a zombie, has this PID.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// groupGone reports whether no process, not even a zombie, is in the group.
func groupGone(pgid int) bool { return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) }

// exits collects OnChildExit calls.
func exits(o *Options) <-chan Exit {
	ch := make(chan Exit, 8)
	o.OnChildExit = func(_ context.Context, ex Exit) { ch <- ex }
	return ch
}

// recorder counts what a supervisor records.
type recorder struct {
	mu      sync.Mutex
	started int
	exited  []ExitStatus
	killed  int
	stopped []time.Duration
}

func (r *recorder) ChildStarted() { r.mu.Lock(); r.started++; r.mu.Unlock() }
func (r *recorder) ChildExited(s ExitStatus) {
	r.mu.Lock()
	r.exited = append(r.exited, s)
	r.mu.Unlock()
}
func (r *recorder) GroupKilled() { r.mu.Lock(); r.killed++; r.mu.Unlock() }
func (r *recorder) Stopped(d time.Duration) {
	r.mu.Lock()
	r.stopped = append(r.stopped, d)
	r.mu.Unlock()
}

func (r *recorder) snapshot() (started int, exited []ExitStatus, killed int, stopped []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started, append([]ExitStatus(nil), r.exited...), r.killed, append([]time.Duration(nil), r.stopped...)
}
