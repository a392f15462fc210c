package api

import (
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// ChildSource is what the API needs of exec mode's supervisor, which runs
// the job as baton's child while this replica leads. The sidecar adapts its
// supervisor to it; package api does not import the supervisor, an
// observer of the election like itself.
type ChildSource interface {
	// ChildState returns a snapshot of the child.
	ChildState() ChildState
	// Changed returns a channel that is closed at the next change of the
	// child's state. It is called again after each wake-up. A nil channel
	// means no change is ever announced.
	Changed() <-chan struct{}
}

// ChildState is a snapshot of exec mode's child, as the API shows it.
type ChildState struct {
	// Running is true from the child's start until it has been reaped and
	// no live process of its group is left.
	Running bool
	// PID is the running child's process ID; 0 when none runs. It is shown
	// only while Running.
	PID int
	// Started is when the running child started; zero when none runs. It
	// is shown only while Running.
	Started time.Time
	// Stopping is true once baton has told the running child to stop
	// (SIGTERM to its process group, SIGKILL after a grace period). It is
	// shown only while Running.
	Stopping bool
	// Restarts counts the starts made because the child exited and the
	// policy is to start it again.
	Restarts int
	// LastExit is how the latest child ended; nil before the first exit.
	LastExit *ChildExit
}

// ChildExit is how one child ended.
type ChildExit struct {
	// Code is the exit code when the child exited; -1 when a signal killed
	// it, when it never started, or when its status could not be read.
	Code int
	// Signal is the name of the signal that killed the child, such as
	// "SIGTERM"; "" when it exited.
	Signal string
	// StartError is why the child could not be started; "" when it ran.
	StartError string
	// At is when the child was reaped (or failed to start).
	At time.Time
	// ByBaton is true when baton had told the child to stop (the end of
	// the term, or baton's shutdown) before it ended; false for the
	// child's own exit.
	ByBaton bool
}

// ChildBody is the child field of StatusBody, present only in exec mode.
type ChildBody struct {
	// Running is true while the child runs.
	Running bool `json:"running"`
	// PID is the running child's process ID, which is also its process
	// group's; present only when Running.
	PID int `json:"pid,omitempty"`
	// Started is when the running child started, RFC 3339 in UTC; present
	// only when Running.
	Started string `json:"started,omitempty"`
	// Stopping is true while baton stops the running child; false unless
	// Running.
	Stopping bool `json:"stopping"`
	// Restarts counts the child's restarts after its own exits.
	Restarts int `json:"restarts"`
	// LastExit is how the latest child ended; absent before the first
	// exit.
	LastExit *ChildExitBody `json:"last_exit,omitempty"`
}

// ChildExitBody is the last_exit field of ChildBody.
type ChildExitBody struct {
	// Code is the exit code; -1 when a signal killed the child, when it
	// never started, or when its status could not be read.
	Code int `json:"code"`
	// Signal is the name of the signal that killed the child; absent when
	// it exited.
	Signal string `json:"signal,omitempty"`
	// StartError is why the child could not be started; absent when it
	// ran.
	StartError string `json:"start_error,omitempty"`
	// At is when the child ended, RFC 3339 in UTC; absent when unknown.
	At string `json:"at,omitempty"`
	// ByBaton is true when baton had told the child to stop before it
	// ended.
	ByBaton bool `json:"by_baton"`
}

func newChildBody(cs ChildState) *ChildBody {
	b := &ChildBody{Running: cs.Running, Restarts: cs.Restarts}
	// Like fence and term_start for a leader: what describes the running
	// child is shown only while one runs.
	if cs.Running {
		b.PID = cs.PID
		b.Started = formatTime(cs.Started)
		b.Stopping = cs.Stopping
	}
	if ex := cs.LastExit; ex != nil {
		b.LastExit = &ChildExitBody{
			Code:       ex.Code,
			Signal:     ex.Signal,
			StartError: ex.StartError,
			At:         formatTime(ex.At),
			ByBaton:    ex.ByBaton,
		}
	}
	return b
}

// formatTime is t as RFC 3339 in UTC, with nanoseconds; "" for the zero
// time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// childChanged returns the child's Changed channel, nil without a child:
// a nil channel never fires in a select.
func (h *handler) childChanged() <-chan struct{} {
	if h.opts.Child == nil {
		return nil
	}
	return h.opts.Child.Changed()
}

// statusBody is the body for st, with the child's state read now in exec
// mode.
func (h *handler) statusBody(st election.Status) StatusBody {
	b := newStatusBody(st)
	if h.opts.Child != nil {
		b.Child = newChildBody(h.opts.Child.ChildState())
	}
	return b
}
