package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/baton-dev/baton/pkg/election"
)

// The guard: a small process, started next to each child, that kills the
// child's process group by itself when baton stops telling it that the
// term goes on. Baton may be stopped (SIGSTOP), starved of CPU or swapped
// out while its job runs on; the lease then expires in the store and
// another replica's job starts beside it. The guard leads the child's
// process group, and baton sends it, after each successful renewal, the
// moment by which the job must be dead: the term's validity plus
// KillGrace, on CLOCK_BOOTTIME, which both processes share. The guard
// sends SIGKILL to the group (itself included) when that moment passes
// without a newer one, and at once when its pipe from baton closes without
// a "done" (baton died). When the whole pod is frozen, the job is frozen
// with it.

// Guard configures the guard process of every child (see Options.Guard).
type Guard struct {
	// Command starts the guard: a program whose main calls RunGuard, such
	// as baton re-executed in its hidden guard mode. Required.
	Command []string
	// Leadership is where each term's validity is read after every change:
	// the *election.Elector that runs Lead. Required.
	Leadership Leadership
	// Warm, if set, is a guard of Command started ahead: the first child
	// uses it, if it still runs, instead of starting its own. Optional.
	Warm *WarmGuard
}

// Leadership is the elector's status, as *election.Elector reports it.
type Leadership interface {
	Status() election.Status
	Changed() <-chan struct{}
}

// guardRecheck bounds each wait of the guard: Go's timers run on
// CLOCK_MONOTONIC, which stops while the machine is suspended, so after a
// resume the guard re-reads CLOCK_BOOTTIME within this much.
const guardRecheck = 100 * time.Millisecond

// guardExitTimeout bounds the wait for a guard told "done" to exit; it is
// then killed.
const guardExitTimeout = time.Second

// guardReadyTimeout bounds the wait for a guard to say that it ignores
// the group's signals, and the job can start.
const guardReadyTimeout = 10 * time.Second

// The guard's protocol: lines from baton on its standard input, and back on
// guardReportFD a first line once it ignores the signals that baton sends
// to the group (before then a SIGTERM would kill it, and the job with it),
// and one more just before it kills.
const (
	guardDeadline = "deadline" // "deadline NS": kill at NS on CLOCK_BOOTTIME unless a later one comes
	guardDone     = "done"     // the group is gone: exit without killing
	guardReady    = "ready"    // from the guard: the job may join its group
	guardKilled   = "killed"   // "killed WHY", from the guard
	// guardReportFD is the guard's file descriptor for its report.
	guardReportFD = 3
)

// guardMsg is one parsed line from baton.
type guardMsg struct {
	deadline time.Time // on CLOCK_BOOTTIME, as time.Unix(0, ns)
	done     bool
}

// parseGuardLine parses one line of the protocol.
func parseGuardLine(line string) (guardMsg, error) {
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == guardDone:
		return guardMsg{done: true}, nil
	case len(f) == 2 && f[0] == guardDeadline:
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || ns <= 0 {
			return guardMsg{}, fmt.Errorf("guard: bad deadline in %q", line)
		}
		return guardMsg{deadline: time.Unix(0, ns)}, nil
	}
	return guardMsg{}, fmt.Errorf("guard: unknown message %q", line)
}

// formatDeadline is the line that sets the deadline ns.
func formatDeadline(ns int64) string { return guardDeadline + " " + strconv.FormatInt(ns, 10) + "\n" }

// readGuardMsgs reads baton's lines from r onto msgs until a "done", an
// error or the end of r; it closes msgs on the way out, after any
// malformed line, so that the watch then kills.
func readGuardMsgs(r *bufio.Reader, msgs chan<- guardMsg) {
	defer close(msgs)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		m, err := parseGuardLine(line)
		if err != nil {
			return
		}
		msgs <- m
		if m.done {
			return
		}
	}
}

// watchDeadline enforces the deadline: it returns kill=false when baton
// says "done", and kill=true, with the reason, when deadline passes on clk
// with no later one received, or when msgs is closed without a "done"
// (baton died, or spoke nonsense). A deadline that comes in replaces the
// current one. Before it kills on time, it takes what is already waiting
// on msgs, so a deadline sent just in time is not ignored.
func watchDeadline(clk clock.Clock, deadline time.Time, msgs <-chan guardMsg) (kill bool, why string) {
	apply := func(m guardMsg, ok bool) (stop, kill bool, why string) {
		switch {
		case !ok:
			return true, true, "baton's pipe closed"
		case m.done:
			return true, false, ""
		}
		deadline = m.deadline
		return false, false, ""
	}
	for {
		if now := clk.Now(); !now.Before(deadline) {
			select {
			case m, ok := <-msgs:
				if stop, kill, why := apply(m, ok); stop {
					return kill, why
				}
				continue
			default:
				return true, fmt.Sprintf("the term's deadline passed %v ago with no renewal", now.Sub(deadline))
			}
		}
		t := clk.NewTimer(min(deadline.Sub(clk.Now()), guardRecheck))
		select {
		case m, ok := <-msgs:
			t.Stop()
			if stop, kill, why := apply(m, ok); stop {
				return kill, why
			}
		case <-t.C():
		}
	}
}

// errGuardSetup is why RunGuard refused to start.
var errGuardSetup = errors.New("guard: not started as a process group's leader")

// guardFirst reads the first deadline, which baton writes before it
// starts the guard.
func guardFirst(r *bufio.Reader) (time.Time, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return time.Time{}, fmt.Errorf("guard: reading the first deadline: %w", err)
	}
	m, err := parseGuardLine(line)
	if err != nil {
		return time.Time{}, err
	}
	if m.done {
		return time.Time{}, io.EOF
	}
	return m.deadline, nil
}
