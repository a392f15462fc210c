package main

import (
	"runtime"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// runLeadership is a run's lease as the job's guard reads it (see
// execGuard): valid until the renew deadline of the last successful
// renewal, by the local monotonic clock, until the run ends. The guard then
// kills the job's group by itself once that deadline plus --kill-grace has
// passed, before the lease can expire in Redis, even when baton is
// stopped, starved or swapped out.
type runLeadership struct {
	fence uint64

	mu       sync.Mutex
	deadline time.Time
	ended    bool
	changed  chan struct{}
}

func newRunLeadership(fence uint64, deadline time.Time) *runLeadership {
	return &runLeadership{fence: fence, deadline: deadline, changed: make(chan struct{})}
}

// Status is valid, with the run's fence, until the deadline.
func (l *runLeadership) Status() election.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	left := time.Until(l.deadline)
	if l.ended || left <= 0 {
		return election.Status{}
	}
	return election.Status{Leader: true, Fence: l.fence, Remaining: left}
}

// Changed is closed at the next renewal or at the run's end.
func (l *runLeadership) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// renewed moves the deadline to deadline.
func (l *runLeadership) renewed(deadline time.Time) { l.update(func() { l.deadline = deadline }) }

// end ends the run: its lease was lost, or the job is being stopped.
func (l *runLeadership) end() { l.update(func() { l.ended = true }) }

func (l *runLeadership) update(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
	close(l.changed)
	l.changed = make(chan struct{})
}

// runGuard is the guard of a scheduled job, fed by l, started ahead as
// warm when it still runs; nil off Linux, where there is none.
func runGuard(l *runLeadership, warm *supervisor.WarmGuard) *supervisor.Guard {
	if runtime.GOOS != "linux" {
		return nil
	}
	return &supervisor.Guard{Command: []string{"/proc/self/exe", guardArg}, Leadership: l, Warm: warm}
}
