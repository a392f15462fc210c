package supervisor

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// switchLeadership leads term1, valid for an hour, until end is called.
type switchLeadership struct {
	mu      sync.Mutex
	over    bool
	changed chan struct{}
}

func newSwitchLeadership() *switchLeadership {
	return &switchLeadership{changed: make(chan struct{})}
}

func (l *switchLeadership) Status() election.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.over {
		return election.Status{}
	}
	return election.Status{Leader: true, Fence: term1.Fence, Remaining: time.Hour}
}

func (l *switchLeadership) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *switchLeadership) end() {
	l.mu.Lock()
	l.over = true
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// TestGuardKillsByTheGraceAfterAGracefulStepDown: a shutdown or a resign
// ends a term whose validity has an hour left; the elector releases the
// lock once the job has stopped, or after ReleaseTimeout, which KillGrace
// fits in. Here the supervisor never acts on the term's end (Lead's
// context stays open), as when baton is starved or stopped between the
// elector's release and its own SIGKILL: the guard alone must still kill
// the job KillGrace after the term ended, not at the hour's end.
func TestGuardKillsByTheGraceAfterAGracefulStepDown(t *testing.T) {
	const grace = 300 * time.Millisecond
	w, lines := output(t)
	l := newSwitchLeadership()
	setGuard := guarded(t, l)
	s := newTestSupervisor(t, `trap '' TERM; echo "$$ $(cut -d' ' -f5 /proc/$$/stat)"; while :; do sleep 0.05; done`, func(o *Options) {
		o.Stdout, o.KillGrace = w, grace
		setGuard(o)
	})
	_, done := lead(t, s, term1)
	_, _, _ = pids(t, recv(t, lines, "the child's pids"))
	ended := time.Now()
	l.end()
	closed(t, done, "Lead's return after the guard's kill")
	if took := time.Since(ended); took < grace {
		t.Errorf("the job died %v after the term ended, before the grace %v", took, grace)
	}
	if last := s.State().LastExit; last == nil || last.Signal != syscall.SIGKILL || !last.ByBaton {
		t.Errorf("last exit %+v, want killed by SIGKILL, by baton", last)
	}
}
