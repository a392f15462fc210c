package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// signalContext is cancelled by the first SIGTERM or SIGINT, which starts a
// graceful shutdown; a second signal exits at once with code 1.
func signalContext(log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	go func() {
		sig := <-ch
		log.Info("shutting down: stepping down and releasing", "signal", sig.String())
		cancel()
		sig = <-ch
		log.Warn("second signal: exiting at once", "signal", sig.String())
		os.Exit(exitFailed)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
