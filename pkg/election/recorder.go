package election

import "time"

// Recorder receives what an elector does, for metrics. Its methods are
// called from the election loop and must not block.
type Recorder interface {
	// Transition is called once per change of leadership.
	Transition(leading bool, fence uint64)
	// AcquireWaited is how long one Acquire took until it won.
	AcquireWaited(d time.Duration)
	// Renewed is one renew attempt: its duration and outcome.
	Renewed(d time.Duration, err error)
	// Error counts one failed Locker operation ("acquire", "renew",
	// "release") that was logged.
	Error(op string, err error)
}

type nopRecorder struct{}

func (nopRecorder) Transition(bool, uint64)      {}
func (nopRecorder) AcquireWaited(time.Duration)  {}
func (nopRecorder) Renewed(time.Duration, error) {}
func (nopRecorder) Error(string, error)          {}
