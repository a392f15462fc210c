//go:build unix && !linux

package redistest

import (
	"os"
	"syscall"
)

// ownProcessGroup puts redis-server in a process group of its own, so that
// SIGSTOP, SIGCONT and kill reach it alone.
func ownProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// resume continues a process stopped by SIGSTOP.
func resume(p *os.Process) { _ = p.Signal(syscall.SIGCONT) }
