package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// Supervisor runs one command while this replica leads: Lead is the
// elector's OnStartedLeading. It runs at most one child at a time.
type Supervisor struct {
	opts Options
	// path is Command[0] resolved on PATH; guardPath is Guard.Command[0].
	path      string
	guardPath string
	log       *slog.Logger

	// run is held by the Lead that runs a child, so that one process never
	// runs two children at once, even when the elector starts a term's
	// Lead before the previous term's has returned (it does so after its
	// ReleaseTimeout).
	run chan struct{}
	// halted is closed by the first Stop or Kill.
	halted   chan struct{}
	haltOnce sync.Once

	mu sync.Mutex
	// changed is closed, and replaced, at every change of state.
	changed   chan struct{}
	gen       uint64
	cur       *child // the running child, nil when none
	stopping  bool
	killAt    time.Time
	nextStart time.Time
	starts    int
	restarts  int
	last      *ExitStatus
	finished  bool // a child's own exit under OnExitExit ended the job
	stopped   bool // Stop or Kill was called
	killed    bool // Kill was called
	// quick counts the exits in a row that came before MaxRestartBackoff.
	quick int
}

// New validates opts, fills in its defaults, and returns a supervisor. It
// starts nothing. On Windows it returns ErrUnsupported.
func New(opts Options) (*Supervisor, error) {
	if err := platformSupported(); err != nil {
		return nil, err
	}
	o, path, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var guardPath string
	if o.Guard != nil {
		g := *o.Guard
		g.Command = append([]string(nil), g.Command...)
		if guardPath, err = g.check(); err != nil {
			return nil, err
		}
		o.Guard = &g
	}
	return &Supervisor{
		opts:      o,
		path:      path,
		guardPath: guardPath,
		log:       o.Logger.With("command", o.Command[0]),
		run:       make(chan struct{}, 1),
		halted:    make(chan struct{}),
		changed:   make(chan struct{}),
	}, nil
}

// Options returns the options in force, with defaults filled in.
func (s *Supervisor) Options() Options { return s.opts }

// State returns a snapshot.
func (s *Supervisor) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{
		Stopping:   s.stopping,
		KillAt:     s.killAt,
		NextStart:  s.nextStart,
		Starts:     s.starts,
		Restarts:   s.restarts,
		Finished:   s.finished,
		Stopped:    s.stopped,
		Generation: s.gen,
	}
	if c := s.cur; c != nil {
		st.Running, st.PID, st.Started, st.Fence = true, c.pid, c.started, c.fence
	}
	if s.last != nil {
		last := *s.last
		st.LastExit = &last
	}
	return st
}

// Changed returns a channel that is closed at the next change of state.
// Call it again after each wake-up for the following change.
func (s *Supervisor) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// update changes state under the lock and wakes every observer.
func (s *Supervisor) update(f func()) {
	s.mu.Lock()
	f()
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Supervisor) notifyLocked() {
	s.gen++
	close(s.changed)
	s.changed = make(chan struct{})
}

// Signal sends sig to the running child's process group, at once to every
// process in it: for SIGHUP, SIGUSR1 and SIGUSR2 that baton receives. It
// returns ErrNoChild when no child is running, and ErrInvalidSignal for a
// signal that is not a non-zero syscall.Signal.
func (s *Supervisor) Signal(sig os.Signal) error {
	ssig, ok := sig.(syscall.Signal)
	if !ok || ssig == 0 {
		return fmt.Errorf("%w: %v", ErrInvalidSignal, sig)
	}
	s.mu.Lock()
	c := s.cur
	if c == nil || c.exited {
		s.mu.Unlock()
		return ErrNoChild
	}
	pgid := c.pgid
	err := signalGroup(pgid, ssig)
	s.mu.Unlock()
	if errors.Is(err, syscall.ESRCH) {
		return ErrNoChild
	}
	if err != nil {
		return fmt.Errorf("supervisor: signal %v to process group %d: %w", ssig, pgid, err)
	}
	s.log.Info("forwarded signal to the child's process group", "signal", ssig.String(), "pid", c.pid)
	return nil
}

// Stop stops the supervisor for good: a running child gets SIGTERM on its
// process group, SIGKILL after KillGrace, and is reaped; no child starts
// again, and a Lead waiting out a restart backoff returns. Stop returns
// once no child runs, or with an error wrapping ctx's cause when ctx ends
// first. It is for baton's shutdown; a term's end needs no Stop, since Lead
// stops its child when its context ends.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.halt(false)
	select {
	case s.run <- struct{}{}:
		<-s.run
		return nil
	case <-ctx.Done():
		return fmt.Errorf("supervisor: stop: %w", context.Cause(ctx))
	}
}

// Kill sends SIGKILL to the running child's process group at once, and
// stops the supervisor for good as Stop does. It does not wait: Lead
// returns once the child has been reaped, and Stop waits for that. It is
// for the second signal of an impatient shutdown.
func (s *Supervisor) Kill() {
	s.halt(true)
}

func (s *Supervisor) halt(kill bool) {
	s.mu.Lock()
	s.stopped = true
	c := s.cur
	if kill {
		s.killed = true
	}
	s.notifyLocked()
	s.mu.Unlock()
	if kill && c != nil {
		s.log.Warn("killing the child's process group at once", "pid", c.pid)
		s.sendStop(c, syscall.SIGKILL)
	}
	s.haltOnce.Do(func() { close(s.halted) })
}

// isKilled reports whether Kill was called.
func (s *Supervisor) isKilled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killed
}
