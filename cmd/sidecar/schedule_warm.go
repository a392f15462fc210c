package main

import (
	"log/slog"
	"runtime"
	"time"

	"github.com/baton-dev/baton/pkg/supervisor"
)

// warmLead is how long before a window's start a replica starts the guard
// of the job it may run: the guard is baton re-executed, milliseconds that
// would otherwise come between the claim and the job's start.
const warmLead = 500 * time.Millisecond

// warmGuard keeps one guard started ahead of the next window (Linux only,
// as the guard). A replica that does not run the window keeps it for the
// next; an idle guard ends by itself after an hour, and the next window
// starts another. Used from the scheduler's goroutine only.
type warmGuard struct {
	log *slog.Logger
	cur *supervisor.WarmGuard
}

// ready makes sure that a guard waits; a failure only costs the job's
// start the guard's own.
func (w *warmGuard) ready() {
	if runtime.GOOS != "linux" || (w.cur != nil && w.cur.Ready()) {
		return
	}
	g, err := supervisor.StartWarmGuard([]string{"/proc/self/exe", guardArg})
	if err != nil {
		w.log.Warn("cannot start the job's guard ahead of the window; it will start with the job", "err", err)
		return
	}
	w.cur = g
}

// take hands the waiting guard, if any, to the next job.
func (w *warmGuard) take() *supervisor.WarmGuard {
	g := w.cur
	w.cur = nil
	return g
}

// close ends a guard that no job took.
func (w *warmGuard) close() {
	if w.cur != nil {
		w.cur.Close()
		w.cur = nil
	}
}
