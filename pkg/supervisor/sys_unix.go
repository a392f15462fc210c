//go:build unix

package supervisor

import (
	"errors"
	"os"
	"syscall"
)

func platformSupported() error { return nil }

// signalGroup sends sig to every process of the group pgid at once.
//
// The group's ID is the child's PID, and it cannot be handed to another
// process while any member of the group lives (Linux frees a PID number
// only when no process uses it as its PID, group or session ID). After the
// whole group is gone the number may be reused, but only once the kernel's
// PID counter has wrapped, which a signal sent microseconds later does not
// meet in practice.
func signalGroup(pgid int, sig syscall.Signal) error {
	return syscall.Kill(-pgid, sig)
}

// groupExists reports whether any process, zombies included, is in the
// group pgid.
func groupExists(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// decodeWait reads the exit code or the killing signal.
func decodeWait(ps *os.ProcessState) (code int, sig syscall.Signal) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal()
	}
	return ps.ExitCode(), 0
}
