// Package stamp writes the interop test's stamps: one line per event, "<event>
// <CLOCK_MONOTONIC ns> <pid> <side> <identity>", each one O_APPEND write, so
// that lines of processes writing the same file never interleave and every
// side's times are on the one clock of the machine.
package stamp

import (
	"fmt"
	"os"

	"github.com/baton-dev/baton/internal/clocks"
)

// Events of a leadership interval: it begins at Start, and ends at End (or
// at the death of its process, which stamps nothing). Beat is written while
// it lasts, so work done after a SIGCONT shows.
const (
	Start = "start"
	Beat  = "beat"
	End   = "end"
)

// Sides of the Lease.
const (
	Baton    = "baton"
	ClientGo = "clientgo"
)

// Writer appends the stamps of one process.
type Writer struct {
	f        *os.File
	side, id string
}

// Open opens (creating it) the stamp file at path for side and identity.
func Open(path, side, identity string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("stamp: %w", err)
	}
	return &Writer{f: f, side: side, id: identity}, nil
}

// Stamp appends one event now.
func (w *Writer) Stamp(event string) error {
	_, err := fmt.Fprintf(w.f, "%s %d %d %s %s\n", event, clocks.MonotonicNS(), os.Getpid(), w.side, w.id)
	return err
}
