package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// ExitStatus is how one child ended.
type ExitStatus struct {
	// PID is the child's process ID (0 when it never started).
	PID int
	// Code is the exit code when the child exited; -1 when a signal killed
	// it, when it never started, or when its status could not be read.
	Code int
	// Signal is the signal that killed the child; 0 when it exited.
	Signal syscall.Signal
	// StartErr is why the child could not be started; nil when it ran.
	StartErr error
	// ByBaton is true when baton had told the child to stop (the end of
	// the term, Stop or Kill) before it exited; false for the child's own
	// exit.
	ByBaton bool
	// Started and Ended are when the child started and was reaped, on
	// Options.Clock. Started is zero when it never started.
	Started, Ended time.Time
}

// ExitCode is the status baton exits with to pass the child's on, as a
// shell does: the exit code; 128+N for a child killed by signal N; 127 for
// a program that could not be found and 126 for one that could not be
// started otherwise; 1 when the status could not be read.
func (s ExitStatus) ExitCode() int {
	switch {
	case s.Signal != 0:
		return 128 + int(s.Signal)
	case s.StartErr != nil && (errors.Is(s.StartErr, exec.ErrNotFound) || errors.Is(s.StartErr, fs.ErrNotExist)):
		return 127
	case s.StartErr != nil:
		return 126
	case s.Code >= 0:
		return s.Code
	default:
		return 1
	}
}

// String describes the status, for logs.
func (s ExitStatus) String() string {
	switch {
	case s.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%v)", int(s.Signal), s.Signal)
	case s.StartErr != nil:
		return "not started: " + s.StartErr.Error()
	case s.Code >= 0:
		return fmt.Sprintf("exit status %d", s.Code)
	default:
		return "exit status unknown"
	}
}

// Exit is a child's own exit that ended a term's work, as handed to
// Options.OnChildExit.
type Exit struct {
	// Term is the term the child ran in.
	Term election.Term
	// Status is how the child ended.
	Status ExitStatus
	// Policy is the policy in force: OnExitExit or OnExitRecampaign.
	Policy OnExit
	// HoldOff is, under OnExitRecampaign, how long to stay out of the
	// election before campaigning again (the argument for Resign): 0 unless
	// the child keeps exiting quickly, then the restart backoff. It is 0
	// under OnExitExit.
	HoldOff time.Duration
}

// State is a snapshot of a supervisor, for the API.
type State struct {
	// Running is true from a child's start until it has been reaped and no
	// live process of its group is left.
	Running bool
	// PID is the running child's process ID, which is also its process
	// group's ID; 0 when none runs.
	PID int
	// Started is when the running child started; zero when none runs.
	Started time.Time
	// Fence is the fence of the term the running child runs for; 0 when
	// none runs.
	Fence uint64
	// Stopping is true once baton has sent SIGTERM to the running child's
	// group, and KillAt is when SIGKILL follows if the group still lives.
	Stopping bool
	KillAt   time.Time
	// NextStart is, under OnExitRestart, when the next start is due after
	// a backoff; zero otherwise.
	NextStart time.Time
	// Starts counts children started; Restarts counts the starts made by
	// OnExitRestart.
	Starts, Restarts int
	// LastExit is how the latest child ended; nil before the first exit.
	LastExit *ExitStatus
	// Finished is true once a child's own exit under OnExitExit has ended
	// the job: no child starts again.
	Finished bool
	// Stopped is true once Stop or Kill has been called: no child starts
	// again.
	Stopped bool
	// Generation grows with every change.
	Generation uint64
}
