package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/baton-dev/baton/pkg/supervisor"
)

// signalHooks wires exec mode into the signal handling: the first signal
// notes whether a job ran, a second one kills the job's group before the
// process exits, and SIGHUP, SIGUSR1 and SIGUSR2 go to the job.
func (s *sidecar) signalHooks() signalHooks {
	if s.exec == nil {
		return signalHooks{}
	}
	x := s.exec
	return signalHooks{
		first:  x.signalled,
		second: x.sup.Kill,
		forward: func(sig os.Signal) {
			if err := x.sup.Signal(sig); err != nil && !errors.Is(err, supervisor.ErrNoChild) {
				x.log.Warn("forwarding a signal to the job failed", "signal", sig.String(), "err", err)
			}
		},
	}
}

// startReaper is startOrphanReaper for exec mode.
func (s *sidecar) startReaper() (stop func()) { return startOrphanReaper(s.exec.log) }

// startOrphanReaper reaps orphaned processes when baton is a container's
// PID 1, or else makes baton their subreaper, so that the job's own
// children that outlive it are reaped and never stay zombies. Off Linux it
// does nothing.
func startOrphanReaper(log *slog.Logger) (stop func()) {
	if os.Getpid() != 1 {
		if err := supervisor.BecomeSubreaper(); err != nil {
			if !errors.Is(err, supervisor.ErrUnsupported) {
				log.Warn("cannot become the job's subreaper; orphans go to init", "err", err)
			}
			return func() {}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := supervisor.ReapOrphans(ctx, log); err != nil && ctx.Err() == nil && !errors.Is(err, supervisor.ErrUnsupported) {
			log.Warn("orphan reaper stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}
