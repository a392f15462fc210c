package main

import (
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// childSource shows the supervisor's child on /leader and /leader/watch.
type childSource struct{ sup *supervisor.Supervisor }

var _ api.ChildSource = childSource{}

func (c childSource) Changed() <-chan struct{} { return c.sup.Changed() }

func (c childSource) ChildState() api.ChildState {
	st := c.sup.State()
	out := api.ChildState{
		Running:  st.Running,
		PID:      st.PID,
		Started:  st.Started,
		Stopping: st.Stopping,
		Restarts: st.Restarts,
	}
	if e := st.LastExit; e != nil {
		x := &api.ChildExit{Code: e.Code, At: e.Ended, ByBaton: e.ByBaton}
		if e.Signal != 0 {
			x.Code = -1
			x.Signal = signalName(e.Signal)
		}
		if e.StartErr != nil {
			x.Code = -1
			x.StartError = e.StartErr.Error()
		}
		out.LastExit = x
	}
	return out
}
