package supervisor

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/baton-dev/baton/pkg/election"
)

func TestExitStatusPassesThrough(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   string
		code     int
		signal   syscall.Signal
		exitCode int
	}{
		{"zero", "exit 0", 0, 0, 0},
		{"three", "exit 3", 3, 0, 3},
		{"killed by SIGKILL", "kill -KILL $$", -1, syscall.SIGKILL, 128 + 9},
		{"killed by SIGTERM", "kill -TERM $$", -1, syscall.SIGTERM, 128 + 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			var got <-chan Exit
			s := newTestSupervisor(t, tc.script, func(o *Options) { got = exits(o); o.Recorder = rec })
			_, done := lead(t, s, term1)
			ex := recv(t, got, "the exit")
			closed(t, done, "Lead to return")
			if ex.Status.Code != tc.code || ex.Status.Signal != tc.signal || ex.Status.ExitCode() != tc.exitCode {
				t.Errorf("status %+v (ExitCode %d), want code %d signal %v ExitCode %d",
					ex.Status, ex.Status.ExitCode(), tc.code, tc.signal, tc.exitCode)
			}
			if ex.Policy != OnExitExit || ex.Term != term1 || ex.HoldOff != 0 || ex.Status.ByBaton {
				t.Errorf("exit %+v: want policy exit, term 1, no hold-off, not by baton", ex)
			}
			st := s.State()
			if !st.Finished || st.Running || st.Starts != 1 || st.LastExit == nil || st.LastExit.ExitCode() != tc.exitCode {
				t.Errorf("state %+v: want finished, not running, 1 start, last exit %d", st, tc.exitCode)
			}
			// The job is finished: the next term starts nothing.
			_, again := lead(t, s, election.Term{Fence: 2})
			closed(t, again, "the next term's Lead to return at once")
			if n := s.State().Starts; n != 1 {
				t.Errorf("%d starts after the job finished, want 1", n)
			}
			started, exited, _, _ := rec.snapshot()
			if started != 1 || len(exited) != 1 || exited[0].ExitCode() != tc.exitCode {
				t.Errorf("recorded %d starts, exits %v; want 1 start and one exit %d", started, exited, tc.exitCode)
			}
		})
	}
}

func TestProgramRemovedAfterNewExits127(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "job")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := make(chan Exit, 1)
	s, err := New(Options{Command: []string{prog}, Lock: "job", Identity: "replica-1",
		OnChildExit: func(_ context.Context, ex Exit) { got <- ex }})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(prog); err != nil {
		t.Fatal(err)
	}
	lead(t, s, term1)
	ex := recv(t, got, "the exit")
	if ex.Status.StartErr == nil || ex.Status.ExitCode() != 127 {
		t.Errorf("status %+v (ExitCode %d), want a start error and 127", ex.Status, ex.Status.ExitCode())
	}
}

// TestEndOfTermStopsWholeGroup is consul's bug #2022: stopping the shell
// must not leave its children running.
func TestEndOfTermStopsWholeGroup(t *testing.T) {
	rec := &recorder{}
	w, lines := output(t)
	s := newTestSupervisor(t, "sleep 1000 & echo $!; wait", func(o *Options) {
		o.Stdout = w
		o.Recorder = rec
		o.KillGrace = time.Minute // SIGTERM must do it
	})
	cancel, done := lead(t, s, term1)
	sleepPID, err := strconv.Atoi(recv(t, lines, "the sleep's PID"))
	if err != nil {
		t.Fatal(err)
	}
	pgid := s.State().PID
	if pgid == 0 || gone(sleepPID) {
		t.Fatalf("child %d, sleep %d: want both running", pgid, sleepPID)
	}
	cancel()
	closed(t, done, "Lead to return")
	if !groupGone(pgid) {
		t.Errorf("kill(-%d, 0) found a process: the group survived the term", pgid)
	}
	if !gone(sleepPID) {
		t.Errorf("the shell's child %d survived the term", sleepPID)
	}
	st := s.State()
	if st.Running || st.Stopping || st.LastExit == nil || st.LastExit.Signal != syscall.SIGTERM || !st.LastExit.ByBaton {
		t.Errorf("state %+v, last exit %+v: want stopped by baton with SIGTERM", st, st.LastExit)
	}
	if st.Finished {
		t.Error("a stop by baton finished the job")
	}
	_, _, killed, stopped := rec.snapshot()
	if killed != 0 || len(stopped) != 1 {
		t.Errorf("recorded %d kills and stops %v, want no kill and one stop", killed, stopped)
	}
}

func TestOwnExitStopsWhatIsLeftOfTheGroup(t *testing.T) {
	w, lines := output(t)
	got := make(chan Exit, 1)
	s := newTestSupervisor(t, "sleep 1000 & echo $!; exit 5", func(o *Options) {
		o.Stdout = w
		o.OnChildExit = func(_ context.Context, ex Exit) {
			// The shell echoed the PID before it exited, and the leftover
			// sleep must be gone by now.
			line := <-lines
			if pid, err := strconv.Atoi(line); err != nil || !gone(pid) {
				t.Errorf("OnChildExit called while the group's sleep %q still lives (%v)", line, err)
			}
			got <- ex
		}
	})
	_, done := lead(t, s, term1)
	ex := recv(t, got, "the exit")
	closed(t, done, "Lead to return")
	if ex.Status.Code != 5 || ex.Status.ByBaton {
		t.Errorf("status %+v, want the shell's own exit 5", ex.Status)
	}
	if !groupGone(ex.Status.PID) {
		t.Errorf("group %d survived", ex.Status.PID)
	}
}

func TestIgnoredSIGTERMIsFollowedBySIGKILLAfterTheGrace(t *testing.T) {
	const grace = 3 * time.Second
	clk := testingclock.NewFakeClock(time.Unix(1_900_000_000, 0))
	rec := &recorder{}
	w, lines := output(t)
	s := newTestSupervisor(t, `trap "" TERM; echo ready; exec sleep 1000`, func(o *Options) {
		o.Stdout, o.Recorder, o.Clock, o.KillGrace = w, rec, clk, grace
	})
	cancel, done := lead(t, s, term1)
	if l := recv(t, lines, "ready"); l != "ready" {
		t.Fatalf("child said %q", l)
	}
	pid := s.State().PID
	cancel()
	st := waitState(t, s, "SIGTERM sent", func(st State) bool { return st.Stopping })
	if !st.KillAt.Equal(clk.Now().Add(grace)) {
		t.Errorf("KillAt %v, want now+%v", st.KillAt, grace)
	}
	// The grace has not run out on the clock: the child lives, and Lead
	// holds on (the lock is not released while the job runs).
	clk.Step(grace - time.Millisecond)
	notClosed(t, done, "Lead returned before the child was killed")
	if gone(pid) {
		t.Fatal("the child died of a SIGTERM it ignores")
	}
	clk.Step(time.Millisecond)
	closed(t, done, "Lead to return after SIGKILL")
	if !gone(pid) {
		t.Errorf("Lead returned before child %d was reaped", pid)
	}
	last := s.State().LastExit
	if last == nil || last.Signal != syscall.SIGKILL || !last.ByBaton || last.ExitCode() != 137 {
		t.Errorf("last exit %+v, want SIGKILL by baton", last)
	}
	_, _, killed, stopped := rec.snapshot()
	if killed != 1 || len(stopped) != 1 || stopped[0] != grace {
		t.Errorf("recorded %d kills, stops %v; want 1 kill and one stop of %v", killed, stopped, grace)
	}
}

func TestKillDoesNotWaitForTheGrace(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1_900_000_000, 0))
	rec := &recorder{}
	w, lines := output(t)
	s := newTestSupervisor(t, `trap "" TERM; echo ready; exec sleep 1000`, func(o *Options) {
		o.Stdout, o.Recorder, o.Clock = w, rec, clk
	})
	cancel, done := lead(t, s, term1)
	recv(t, lines, "ready")
	cancel()
	waitState(t, s, "SIGTERM sent", func(st State) bool { return st.Stopping })
	s.Kill()
	closed(t, done, "Lead to return after Kill") // the clock never moved
	if last := s.State().LastExit; last == nil || last.Signal != syscall.SIGKILL {
		t.Errorf("last exit %+v, want SIGKILL", last)
	}
	if _, _, killed, _ := rec.snapshot(); killed != 1 {
		t.Errorf("recorded %d kills, want 1", killed)
	}
	_, again := lead(t, s, election.Term{Fence: 2})
	closed(t, again, "Lead after Kill to return at once")
	if st := s.State(); st.Starts != 1 || !st.Stopped {
		t.Errorf("state %+v: want one start and stopped", st)
	}
}

func TestStopStopsTheChildAndWaits(t *testing.T) {
	w, lines := output(t)
	s := newTestSupervisor(t, `echo ready; exec sleep 1000`, func(o *Options) { o.Stdout = w })
	_, done := lead(t, s, term1)
	recv(t, lines, "ready")
	pid := s.State().PID
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Stop returned: the child has been reaped already.
	if !gone(pid) {
		t.Errorf("Stop returned before child %d was reaped", pid)
	}
	closed(t, done, "Lead to return")
	if last := s.State().LastExit; last == nil || last.Signal != syscall.SIGTERM || !last.ByBaton {
		t.Errorf("last exit %+v, want SIGTERM by baton", last)
	}
}

func TestSignalReachesTheChildsGroup(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2} {
		t.Run(sig.String(), func(t *testing.T) {
			name := strings.TrimPrefix(unixSignalName(sig), "SIG")
			// baton handles each signal it forwards (cmd/sidecar's
			// signalContext), so its child starts with the signal at its
			// default action. So does this test: a test binary started
			// with SIGHUP ignored (under nohup) would hand the ignore on,
			// and a non-interactive shell cannot trap a signal ignored on
			// entry (this failed as "timed out waiting for the trap's
			// output").
			handled := make(chan os.Signal, 1)
			signal.Notify(handled, sig)
			defer signal.Stop(handled)
			w, lines := output(t)
			var got <-chan Exit
			s := newTestSupervisor(t, `trap 'echo got; exit 7' `+name+`; sleep 1000 & echo ready; wait`,
				func(o *Options) { o.Stdout = w; got = exits(o) })
			if err := s.Signal(sig); !errors.Is(err, ErrNoChild) {
				t.Errorf("Signal before any child: %v, want ErrNoChild", err)
			}
			_, done := lead(t, s, term1)
			recv(t, lines, "ready")
			if err := s.Signal(sig); err != nil {
				t.Fatalf("Signal: %v", err)
			}
			if l := recv(t, lines, "the trap's output"); l != "got" {
				t.Errorf("child said %q, want got", l)
			}
			ex := recv(t, got, "the exit")
			closed(t, done, "Lead to return")
			if ex.Status.Code != 7 || ex.Status.ByBaton {
				t.Errorf("status %+v, want the trap's own exit 7", ex.Status)
			}
			if err := s.Signal(sig); !errors.Is(err, ErrNoChild) {
				t.Errorf("Signal after the exit: %v, want ErrNoChild", err)
			}
		})
	}
}

func unixSignalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	}
	return sig.String()
}

func TestSignalRejectsBadSignals(t *testing.T) {
	s := newTestSupervisor(t, "exit 0", nil)
	for _, sig := range []os.Signal{nil, syscall.Signal(0), fakeSignal{}} {
		if err := s.Signal(sig); !errors.Is(err, ErrInvalidSignal) {
			t.Errorf("Signal(%v): %v, want ErrInvalidSignal", sig, err)
		}
	}
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

func TestEnvironment(t *testing.T) {
	t.Setenv("BATON_REDIS_PASSWORD", "secret")
	t.Setenv("INHERITED", "yes")
	w, lines := output(t)
	var got <-chan Exit
	s := newTestSupervisor(t,
		`for v in BATON_LOCK BATON_IDENTITY BATON_FENCE BATON_TERM_START BATON_API_URL BATON_REDIS_PASSWORD BATON_CUSTOM INHERITED EXTRA; do
			eval "echo $v=\${$v-unset}"
		done`,
		func(o *Options) {
			o.Stdout = w
			o.APIURL = "http://127.0.0.1:8080"
			o.Env = []string{"EXTRA=a=b", "BATON_CUSTOM=mine"}
			got = exits(o)
		})
	term := election.Term{Fence: 42, Start: time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600))}
	lead(t, s, term)
	recv(t, got, "the exit")
	want := []string{
		"BATON_LOCK=job",
		"BATON_IDENTITY=replica-1",
		"BATON_FENCE=42",
		"BATON_TERM_START=2030-01-02T02:04:05.0000006Z",
		"BATON_API_URL=http://127.0.0.1:8080",
		"BATON_REDIS_PASSWORD=unset", // baton's configuration stays baton's
		"BATON_CUSTOM=mine",
		"INHERITED=yes",
		"EXTRA=a=b",
	}
	for _, line := range want {
		if l := recv(t, lines, line); l != line {
			t.Errorf("child printed %q, want %q", l, line)
		}
	}
}

func TestRestartPolicyBacksOffWithinTheTerm(t *testing.T) {
	const (
		first = time.Second
		most  = 10 * time.Second
	)
	clk := testingclock.NewFakeClock(time.Unix(1_900_000_000, 0))
	rec := &recorder{}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdinR.Close(); stdinW.Close() })
	w, lines := output(t)
	var got <-chan Exit
	s := newTestSupervisor(t, `echo started; read x; exit 3`, func(o *Options) {
		o.Stdin, o.Stdout, o.Clock, o.Recorder = stdinR, w, clk, rec
		o.OnExit, o.RestartBackoff, o.MaxRestartBackoff = OnExitRestart, first, most
		got = exits(o)
	})
	cancel, done := lead(t, s, term1)
	exitChild := func() {
		t.Helper()
		if _, err := stdinW.WriteString("\n"); err != nil {
			t.Fatal(err)
		}
	}
	started := func(n int) {
		t.Helper()
		recv(t, lines, "start "+strconv.Itoa(n))
		st := waitState(t, s, "start", func(st State) bool { return st.Starts == n && st.Running })
		if st.Fence != term1.Fence || st.Restarts != n-1 {
			t.Fatalf("state %+v: want start %d in term 1, %d restarts", st, n, n-1)
		}
	}
	backoff := func(n int, d time.Duration) {
		t.Helper()
		st := waitState(t, s, "the backoff", func(st State) bool { return !st.NextStart.IsZero() })
		if got := st.NextStart.Sub(clk.Now()); got != d {
			t.Fatalf("backoff after exit %d: %v, want %v", n, got, d)
		}
		clk.Step(d - time.Millisecond)
		if st := s.State(); st.Starts != n || st.NextStart.IsZero() {
			t.Fatalf("restarted before the backoff ran out: %+v", st)
		}
		clk.Step(time.Millisecond)
	}

	started(1)
	exitChild() // the first exit restarts at once
	started(2)
	exitChild()
	backoff(2, first)
	started(3)
	exitChild()
	backoff(3, 2*first)
	started(4)
	clk.Step(most) // a long run resets the backoff
	exitChild()
	started(5)

	cancel()
	closed(t, done, "Lead to return")
	select {
	case ex := <-got:
		t.Errorf("OnChildExit called under the restart policy: %+v", ex)
	default:
	}
	_, exited, _, _ := rec.snapshot()
	if len(exited) != 5 {
		t.Errorf("recorded %d exits, want 5", len(exited))
	}
	for i, e := range exited[:4] {
		if e.Code != 3 {
			t.Errorf("exit %d: %+v, want 3", i+1, e)
		}
	}
}

func TestRecampaignPolicyReportsAHoldOff(t *testing.T) {
	var got <-chan Exit
	s := newTestSupervisor(t, "exit 0", func(o *Options) {
		o.OnExit, o.RestartBackoff = OnExitRecampaign, 2*time.Second
		got = exits(o)
	})
	for i, want := range []time.Duration{0, 2 * time.Second, 4 * time.Second} {
		term := election.Term{Fence: uint64(i + 1)}
		_, done := lead(t, s, term)
		ex := recv(t, got, "the exit")
		closed(t, done, "Lead to return")
		if ex.Policy != OnExitRecampaign || ex.Term != term || ex.HoldOff != want || ex.Status.Code != 0 {
			t.Errorf("term %d: exit %+v, want recampaign with hold-off %v", term.Fence, ex, want)
		}
	}
	if st := s.State(); st.Starts != 3 || st.Finished {
		t.Errorf("state %+v: want 3 starts, not finished", st)
	}
}

// TestOneChildAtATime: a term's Lead that starts while the previous one
// still stops its child (the elector does that after its ReleaseTimeout)
// waits for it.
func TestOneChildAtATime(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1_900_000_000, 0))
	w, lines := output(t)
	s := newTestSupervisor(t, `trap "" TERM; echo ready; exec sleep 1000`, func(o *Options) {
		o.Stdout, o.Clock = w, clk
	})
	cancel1, done1 := lead(t, s, term1)
	recv(t, lines, "ready")
	cancel1()
	waitState(t, s, "SIGTERM sent", func(st State) bool { return st.Stopping })
	_, done2 := lead(t, s, election.Term{Fence: 2})
	notClosed(t, done2, "the second Lead returned")
	if st := s.State(); st.Starts != 1 {
		t.Fatalf("a second child started while the first still runs: %+v", st)
	}
	clk.Step(s.Options().KillGrace)
	closed(t, done1, "the first Lead to return")
	recv(t, lines, "ready from the second term's child")
	if st := s.State(); st.Starts != 2 || st.Fence != 2 {
		t.Errorf("state %+v: want the second term's child", st)
	}
}

// TestChildOutlivesExitingThreads: Go ends the OS thread of a goroutine
// that returns while locked to it, and the kernel sends the parent-death
// signal when the thread that forked the child ends. The child must not
// die of another goroutine's thread ending.
func TestChildOutlivesExitingThreads(t *testing.T) {
	w, lines := output(t)
	s := newTestSupervisor(t, `echo ready; exec sleep 1000`, func(o *Options) { o.Stdout = w })
	cancel, done := lead(t, s, term1)
	recv(t, lines, "ready")
	// Goroutines that lock their threads and block need a thread each:
	// they take every idle thread, including the one that forked the child
	// if it were idle, and new ones. Released, they end all those threads.
	const n = 64
	release := make(chan struct{})
	tids := make(chan int, n)
	for range n {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			tids <- syscall.Gettid()
			<-release
		}()
	}
	ended := make([]int, 0, n)
	for range n {
		ended = append(ended, recv(t, tids, "a locked thread"))
	}
	close(release)
	// Once the threads are gone, their parent-death signals have been sent.
	deadline := time.Now().Add(guard)
	for _, tid := range ended {
		if tid == os.Getpid() {
			continue // Go wedges the main thread instead of ending it
		}
		for {
			if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("thread %d did not end", tid)
			}
			time.Sleep(time.Millisecond) // waiting for the kernel; correctness does not depend on it
		}
	}
	cancel()
	closed(t, done, "Lead to return")
	if last := s.State().LastExit; last == nil || last.Signal != syscall.SIGTERM {
		t.Errorf("last exit %+v, want SIGTERM from the stop (SIGKILL is the parent-death signal)", last)
	}
}
