//go:build !unix

package redistest

import (
	"os"
	"syscall"
)

// ownProcessGroup: off Unix there are no process groups to set up; the
// package builds, so that the library's tests vet everywhere, but its
// servers run only where redis-server does.
func ownProcessGroup() *syscall.SysProcAttr { return nil }

// resume: off Unix a process cannot be stopped by a signal.
func resume(*os.Process) {}
