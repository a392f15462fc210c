package redistest

import (
	"os"
	"syscall"
)

// ownProcessGroup puts redis-server in a process group of its own, so that
// SIGSTOP, SIGCONT and kill reach it alone, and has the kernel kill it when
// the test binary dies: a binary killed with SIGKILL (a helper process that
// its test kills, a timed-out run) runs no cleanup, and its server would
// outlive it.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// resume continues a process stopped by SIGSTOP.
func resume(p *os.Process) { _ = p.Signal(syscall.SIGCONT) }
