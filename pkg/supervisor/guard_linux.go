package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"
)

func guardSupported() error { return nil }

// joinGroup makes the child join the group pgid, its guard's, instead of
// leading one of its own.
func joinGroup(attr *syscall.SysProcAttr, pgid int) { attr.Pgid = pgid }

// bootNS reads CLOCK_BOOTTIME, which baton and its guard share: it counts
// while either is stopped, and through a suspend. Should it fail (it exists
// since Linux 2.6.39), both fall back to CLOCK_MONOTONIC alike.
func bootNS() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	}
	return ts.Nano()
}

// bootClock is the guard's clock: Now is CLOCK_BOOTTIME as time.Unix(0, ns),
// the scale of the protocol's deadlines; timers are Go's (see guardRecheck).
type bootClock struct{ clock.RealClock }

func (bootClock) Now() time.Time                    { return time.Unix(0, bootNS()) }
func (c bootClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// RunGuard is the guard process's main: baton re-executes itself in its
// guard mode, and that mode calls RunGuard and exits with its result. It
// reads deadlines from stdin and kills its own process group, which the
// job joined, when one passes without a later one or when stdin ends
// without a "done"; it exits 0 after a "done". It must be the leader of
// its process group (the supervisor starts it so), and refuses otherwise,
// so that it never kills the group of the baton that started it. It
// ignores the signals that baton sends to the job's group. Linux only.
func RunGuard(stdin io.Reader, stderr io.Writer) int {
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	pid := os.Getpid()
	if syscall.Getpgrp() != pid {
		fmt.Fprintf(stderr, "baton guard: %v (pid %d, group %d)\n", errGuardSetup, pid, syscall.Getpgrp())
		return 2
	}
	report := os.NewFile(guardReportFD, "report")
	if report == nil {
		fmt.Fprintf(stderr, "baton guard: %v: no report file\n", errGuardSetup)
		return 2
	}
	if _, err := report.WriteString(guardReady + "\n"); err != nil {
		fmt.Fprintf(stderr, "baton guard: %v: %v\n", errGuardSetup, err)
		return 2
	}
	r := bufio.NewReader(stdin)
	var kill bool
	var why string
	first, err := guardFirst(r)
	switch {
	case err == io.EOF:
		return 0 // "done" before anything started
	case err != nil:
		kill, why = true, err.Error()
	default:
		msgs := make(chan guardMsg)
		go readGuardMsgs(r, msgs)
		kill, why = watchDeadline(bootClock{}, first, msgs)
	}
	if !kill {
		return 0
	}
	// The report comes first: once the group is dead, baton may read it.
	_, _ = report.WriteString(guardKilled + " " + why + "\n")
	_ = syscall.Kill(-pid, syscall.SIGKILL) // this process goes with its group
	return 1
}

// guardProc is baton's side of one child's guard.
type guardProc struct {
	cmd    *exec.Cmd
	pid    int
	w      *os.File // deadlines to the guard
	report *os.File // the guard's report, read without blocking
	exited chan struct{}

	mu     sync.Mutex
	last   int64 // the latest deadline sent, ns on CLOCK_BOOTTIME
	closed bool
	// report is the guard's report once read: it is read once, by
	// whichever of the child's reap and watchGuard comes first.
	reported bool
	why      string
}

// startGuard starts the guard with path and args as a process group's
// leader, its first deadline already in its pipe: a baton stopped right
// after this call is covered. It returns once the guard has said that it
// ignores the group's signals, so that a stop right after the job's start
// cannot kill the guard instead; a guard not ready by its first deadline
// (or guardReadyTimeout) is killed, and the term is over for this job.
func startGuard(path string, args []string, first int64) (_ *guardProc, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("supervisor: guard pipe: %w", err)
	}
	rr, rw, err := os.Pipe()
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("supervisor: guard pipe: %w", err)
	}
	defer func() {
		_ = r.Close()
		_ = rw.Close()
		if err != nil {
			_ = w.Close()
			_ = rr.Close()
		}
	}()
	if _, err := w.WriteString(formatDeadline(first)); err != nil {
		return nil, fmt.Errorf("supervisor: guard pipe: %w", err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATON_") {
			env = append(env, kv)
		}
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        args,
		Env:         env,
		Stdin:       r,
		Stderr:      os.Stderr,
		ExtraFiles:  []*os.File{rw}, // guardReportFD
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := startRegistered(cmd); err != nil {
		return nil, fmt.Errorf("supervisor: starting the guard: %w", err)
	}
	g := &guardProc{cmd: cmd, pid: cmd.Process.Pid, w: w, report: rr, exited: make(chan struct{}), last: first}
	go func() {
		_ = cmd.Wait()
		unregister(g.pid)
		close(g.exited)
	}()
	if err := g.awaitReady(first); err != nil {
		_ = syscall.Kill(g.pid, syscall.SIGKILL)
		<-g.exited
		return nil, err
	}
	return g, nil
}

// awaitReady reads the guard's "ready" line, until its first deadline, at
// most guardReadyTimeout; only that line, so that a later report stays in
// the pipe for killedBy.
func (g *guardProc) awaitReady(first int64) error {
	wait := min(time.Duration(first-bootNS()), guardReadyTimeout)
	_ = g.report.SetReadDeadline(time.Now().Add(max(wait, 0)))
	defer func() { _ = g.report.SetReadDeadline(time.Time{}) }()
	line := make([]byte, len(guardReady)+1)
	_, err := io.ReadFull(g.report, line)
	switch {
	case err == nil && string(line) == guardReady+"\n":
		return nil
	case err == nil:
		return fmt.Errorf("supervisor: the guard answered %q, not %q", line, guardReady)
	case errors.Is(err, os.ErrDeadlineExceeded) && wait < guardReadyTimeout:
		return fmt.Errorf("%w: the guard was not ready before the term's deadline", errTermOver)
	}
	return fmt.Errorf("supervisor: the guard did not say it was ready: %w", err)
}

// send hands the guard a later deadline; earlier or equal ones are not
// sent. A guard that does not read within guardExitTimeout is not waited
// for.
func (g *guardProc) send(ns int64) error { return g.write(ns, false) }

// lower hands the guard an earlier deadline; later or equal ones are not
// sent.
func (g *guardProc) lower(ns int64) error { return g.write(ns, true) }

func (g *guardProc) write(ns int64, earlier bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || ns == g.last || (ns < g.last) != earlier {
		return nil
	}
	_ = g.w.SetWriteDeadline(time.Now().Add(guardExitTimeout))
	if _, err := g.w.WriteString(formatDeadline(ns)); err != nil {
		return fmt.Errorf("supervisor: sending the guard its deadline: %w", err)
	}
	g.last = ns
	return nil
}

// killedBy reports whether the guard said it killed the group, and why. It
// does not block. The guard writes its report before it kills, so once the
// child has died of the guard's SIGKILL, the report is there to read.
func (g *guardProc) killedBy() (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reported {
		return g.why, true
	}
	rc, err := g.report.SyscallConn()
	if err != nil {
		return "", false
	}
	buf := make([]byte, 512)
	n := 0
	_ = rc.Read(func(fd uintptr) bool {
		n, _ = syscall.Read(int(fd), buf)
		return true // no wait: whatever is there now
	})
	line, ok := strings.CutPrefix(string(buf[:max(n, 0)]), guardKilled+" ")
	if ok {
		g.reported, g.why = true, strings.TrimSpace(line)
	}
	return g.why, ok
}

// gone is closed once the guard has exited and been reaped.
func (g *guardProc) gone() <-chan struct{} { return g.exited }

// told reports whether finish has told the guard that the group is gone.
func (g *guardProc) told() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// finish tells the guard that the group is gone, and waits until it has
// exited and been reaped, killing it after guardExitTimeout.
func (g *guardProc) finish() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		_ = g.w.SetWriteDeadline(time.Now().Add(guardExitTimeout))
		_, _ = g.w.WriteString(guardDone + "\n")
		_ = g.w.Close()
	}
	g.mu.Unlock()
	t := time.NewTimer(guardExitTimeout)
	defer t.Stop()
	select {
	case <-g.exited:
	case <-t.C:
		_ = syscall.Kill(g.pid, syscall.SIGKILL) // the guard alone
		t.Reset(guardExitTimeout)
		select {
		case <-g.exited:
		case <-t.C: // stuck in the kernel: its Wait reaps it later
		}
	}
	_ = g.report.Close()
}
