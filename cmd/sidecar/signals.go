package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// signalHooks is what exec mode adds to the signal handling; the zero
// value is the sidecar's.
type signalHooks struct {
	// first runs at the first SIGTERM or SIGINT, before the shutdown.
	first func()
	// second runs at the second one, before the process exits.
	second func()
	// forward receives SIGHUP, SIGUSR1 and SIGUSR2; nil leaves them to
	// their default action.
	forward func(os.Signal)
}

// signalContext is cancelled by the first SIGTERM or SIGINT, which starts a
// graceful shutdown; a second signal exits at once with code 1.
func signalContext(log *slog.Logger, hooks signalHooks) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	fwd := make(chan os.Signal, 4)
	if hooks.forward != nil {
		signal.Notify(fwd, forwardedSignals...)
		go func() {
			for sig := range fwd {
				hooks.forward(sig)
			}
		}()
	}
	go func() {
		sig := <-ch
		log.Info("shutting down: stepping down and releasing", "signal", sig.String())
		if hooks.first != nil {
			hooks.first()
		}
		cancel()
		sig = <-ch
		log.Warn("second signal: exiting at once", "signal", sig.String())
		if hooks.second != nil {
			hooks.second()
		}
		os.Exit(exitFailed)
	}()
	return ctx, func() {
		signal.Stop(ch)
		if hooks.forward != nil {
			signal.Stop(fwd)
			close(fwd)
		}
		cancel()
	}
}
