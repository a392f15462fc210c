//go:build unix && !linux

package supervisor

import (
	"context"
	"log/slog"
	"syscall"
)

// sysProcAttr puts the child in a process group of its own. There is no
// parent-death signal off Linux: a baton killed by SIGKILL leaves the job
// running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitExited returns at once: without waitid's WNOWAIT the reap itself is
// the first sign of the exit.
func waitExited(int) {}

// groupAlive counts zombies as members: without /proc they cannot be told
// apart.
func groupAlive(pgid int) bool { return groupExists(pgid) }

// BecomeSubreaper returns ErrUnsupported: it is Linux only.
func BecomeSubreaper() error { return ErrUnsupported }

// ReapOrphans returns ErrUnsupported: it is Linux only.
func ReapOrphans(context.Context, *slog.Logger) error { return ErrUnsupported }
