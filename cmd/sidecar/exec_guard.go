package main

import (
	"runtime"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// guardArg is the hidden first argument that runs baton as a job's guard
// (supervisor.RunGuard): exec mode re-executes itself so for each job.
const guardArg = "__exec-guard"

// execGuard configures the guard of exec mode's jobs: this very binary,
// through /proc/self/exe (the same program even if the file was replaced
// since), fed by the elector's status. nil off Linux, where there is none.
func execGuard(elector func() *election.Elector) *supervisor.Guard {
	if runtime.GOOS != "linux" {
		return nil
	}
	return &supervisor.Guard{Command: []string{"/proc/self/exe", guardArg}, Leadership: electorLeadership(elector)}
}

// electorLeadership reads the elector, which is built after the supervisor
// and before any term.
type electorLeadership func() *election.Elector

func (f electorLeadership) Status() election.Status  { return f().Status() }
func (f electorLeadership) Changed() <-chan struct{} { return f().Changed() }
