package runs

import (
	"errors"
	"fmt"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
)

// The errors of the runs. A refused claim is a *ClaimError, which matches
// one of the first four; a refused Renew or Complete is a *StaleError.
var (
	// ErrSucceeded means the window succeeded: success is final.
	ErrSucceeded = errors.New("runs: window succeeded")
	// ErrRunning means an attempt of the window holds a valid lease.
	ErrRunning = errors.New("runs: window running")
	// ErrExhausted means the window's attempts are used up, all failed.
	ErrExhausted = errors.New("runs: window attempts exhausted")
	// ErrClosed means the window's close has passed in Redis time.
	ErrClosed = errors.New("runs: window closed")
	// ErrStale means the run is not its window's current attempt, or its
	// lease ran out in Redis time: it may neither renew nor record.
	ErrStale = errors.New("runs: stale run")
	// ErrInvalid marks invalid arguments and options; the error wraps a
	// *field.Error that names them.
	ErrInvalid = lockcore.ErrInvalid
	// ErrForeign means a key holds a value baton did not write; baton
	// never overwrites it. The error is a *redislock.ForeignError.
	ErrForeign = lockcore.ErrForeign
)

// ClaimError says why a window may not run now, and what its current
// attempt is, if any.
type ClaimError struct {
	Job, Window string
	// State is "succeeded", "running", "exhausted" or "closed".
	State string
	// Last is the window's current attempt: the success, the holder, the
	// last failure. It is nil for a closed window that never ran.
	Last *Record
	// Remaining is, while running, how long Last's lease holds in Redis
	// time.
	Remaining time.Duration
}

func (e *ClaimError) Error() string {
	switch {
	case e.Last == nil:
		return fmt.Sprintf("runs: job %q window %q %s", e.Job, e.Window, e.State)
	case e.State == "running":
		return fmt.Sprintf("runs: job %q window %q running: attempt %d by %q (fence %d) for %v more",
			e.Job, e.Window, e.Last.Attempt, e.Last.Identity, e.Last.Fence, e.Remaining)
	}
	return fmt.Sprintf("runs: job %q window %q %s: attempt %d by %q (fence %d) %s at %s",
		e.Job, e.Window, e.State, e.Last.Attempt, e.Last.Identity, e.Last.Fence, e.Last.Status, e.Last.End.Format(time.RFC3339Nano))
}

// Is matches the sentinel of e's State.
func (e *ClaimError) Is(target error) bool { return target == claimStates[e.State] }

var claimStates = map[string]error{
	"succeeded": ErrSucceeded, "running": ErrRunning, "exhausted": ErrExhausted, "closed": ErrClosed,
}

// StaleError reports a Renew or Complete refused: the run is not its
// window's current running attempt. It matches ErrStale.
type StaleError struct {
	Job, Window, RunID string
	// Current is the window's current attempt, nil when there is none.
	Current *Record
}

func (e *StaleError) Error() string {
	if e.Current == nil {
		return fmt.Sprintf("runs: job %q run %q is stale: its window %q has no record", e.Job, e.RunID, e.Window)
	}
	if e.Current.RunID == e.RunID {
		return fmt.Sprintf("runs: job %q run %q is stale: window %q attempt %d is %s", e.Job, e.RunID, e.Window, e.Current.Attempt, e.Current.Status)
	}
	return fmt.Sprintf("runs: job %q run %q is stale: window %q is at attempt %d (%s) by %q, fence %d",
		e.Job, e.RunID, e.Window, e.Current.Attempt, e.Current.Status, e.Current.Identity, e.Current.Fence)
}

// Is makes errors.Is(err, ErrStale) true.
func (e *StaleError) Is(target error) bool { return target == ErrStale }
