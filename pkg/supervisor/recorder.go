package supervisor

import "time"

// Recorder receives what a supervisor does, for metrics. Its methods must
// not block.
type Recorder interface {
	// ChildStarted counts one child started.
	ChildStarted()
	// ChildExited counts one child reaped, with its status (label by
	// ExitStatus.ExitCode(), which stays within 0 to 255).
	ChildExited(s ExitStatus)
	// GroupKilled counts one SIGKILL sent to a child's process group: when
	// the grace ran out, or on Kill.
	GroupKilled()
	// Stopped is how long one stop took, from the end of leadership (or
	// Stop, or Kill) until the child had been reaped and no live process of
	// its group was left.
	Stopped(d time.Duration)
}

type nopRecorder struct{}

func (nopRecorder) ChildStarted()          {}
func (nopRecorder) ChildExited(ExitStatus) {}
func (nopRecorder) GroupKilled()           {}
func (nopRecorder) Stopped(time.Duration)  {}
