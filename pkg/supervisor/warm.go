package supervisor

import (
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// warmIdle is the deadline of a warm guard until a child uses it: it
// guards an empty group meanwhile, and kills nothing but itself when it
// passes.
const warmIdle = time.Hour

// WarmGuard is a guard started ahead of the child it will guard, so that
// the child's start does not wait for the guard's own start (baton
// re-executed: milliseconds, most of a scheduled job's start). Until a
// child uses it, through Guard.Warm, it leads an empty process group with
// a far deadline. A WarmGuard serves one child; Close ends it if none did.
type WarmGuard struct {
	mu sync.Mutex
	g  *guardProc // nil once taken or closed
}

// StartWarmGuard starts the guard of command, idle, and returns once it is
// ready. It is Linux only, as the guard is.
func StartWarmGuard(command []string) (*WarmGuard, error) {
	if err := guardSupported(); err != nil {
		return nil, err
	}
	if len(command) == 0 || command[0] == "" {
		return nil, invalid("Guard.Command", "is required: the program that runs RunGuard")
	}
	path, err := exec.LookPath(command[0])
	if err != nil {
		return nil, invalidBecause(err, "Guard.Command", "names no executable program (%q)", command[0])
	}
	g, err := startGuard(path, command, bootNS()+int64(warmIdle))
	if err != nil {
		return nil, fmt.Errorf("supervisor: warm guard: %w", err)
	}
	return &WarmGuard{g: g}, nil
}

// take hands the guard to a child whose first deadline is first: it
// brings the guard's deadline forward to it. It returns nil when the guard
// was taken, closed, or has exited (then a child starts its own).
func (w *WarmGuard) take(first int64) *guardProc {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	g := w.g
	w.g = nil
	w.mu.Unlock()
	if g == nil {
		return nil
	}
	select {
	case <-g.gone():
		return nil
	default:
	}
	if err := g.lower(first); err != nil {
		g.finish()
		return nil
	}
	return g
}

// Close ends the guard unless a child took it.
func (w *WarmGuard) Close() {
	w.mu.Lock()
	g := w.g
	w.g = nil
	w.mu.Unlock()
	if g != nil {
		g.finish()
	}
}

// Ready reports whether the guard still waits for a child: not taken, not
// closed, and running.
func (w *WarmGuard) Ready() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.g == nil {
		return false
	}
	select {
	case <-w.g.gone():
		return false
	default:
		return true
	}
}
