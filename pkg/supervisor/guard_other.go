//go:build !linux

package supervisor

import (
	"fmt"
	"io"
	"syscall"
)

// guardSupported refuses the guard: it needs CLOCK_BOOTTIME, shared by
// baton and the guard, and /proc to tell the guard from the job's
// processes.
func guardSupported() error { return ErrUnsupported }

// RunGuard returns 2: the guard is Linux only.
func RunGuard(_ io.Reader, stderr io.Writer) int {
	fmt.Fprintln(stderr, "baton guard:", ErrUnsupported)
	return 2
}

type guardProc struct{ pid int }

func bootNS() int64 { return 0 }

func joinGroup(*syscall.SysProcAttr, int) {}

func startGuard(string, []string, int64) (*guardProc, error) { return nil, ErrUnsupported }
func (*guardProc) send(int64) error                          { return nil }
func (*guardProc) lower(int64) error                         { return nil }
func (*guardProc) killedBy() (string, bool)                  { return "", false }
func (*guardProc) finish()                                   {}
func (*guardProc) gone() <-chan struct{}                     { return nil }
func (*guardProc) told() bool                                { return true }

func groupAliveExcept(pgid, _ int) bool { return groupAlive(pgid) }
