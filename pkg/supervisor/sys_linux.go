package supervisor

import (
	"errors"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts the child in a process group of its own, so that one
// kill(-pgid) reaches the child and every descendant that stays in the
// group, and asks the kernel to SIGKILL the child when its parent thread
// dies (PR_SET_PDEATHSIG), so that a baton killed by SIGKILL does not leave
// the job running without a lease. The parent thread is held for the
// child's whole life: see keep.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExited blocks until the child pid has exited, without reaping it
// (WNOWAIT): while it is a zombie its PID, and thus its group's ID, stays
// taken, so that the supervisor can mark it exited before the reap lets the
// number go.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return // exited, or an error that the reap will report
		}
	}
}

// groupAlive reports whether a process of the group pgid is still alive.
// Zombies do not count: they can do nothing. Those that are this process's
// own children (orphans of the group reparented to baton as PID 1 or as a
// subreaper) are reaped on the way, so that the group really disappears;
// zombies of other parents are left to them.
func groupAlive(pgid int) bool { return groupAliveExcept(pgid, 0) }

// groupAliveExcept is groupAlive that does not count the process except:
// the child's guard, which leads the group until it is told that the rest
// is gone.
func groupAliveExcept(pgid, except int) bool {
	if !groupExists(pgid) {
		return false
	}
	self := os.Getpid()
	alive := false
	err := scanProcs(func(p procStat) {
		if p.pgrp != pgid || p.pid == except {
			return
		}
		if !p.dead() {
			alive = true
			return
		}
		if p.ppid == self {
			reapZombie(p.pid)
		}
	})
	if err != nil {
		// Without /proc, zombies cannot be told apart: count them.
		return groupExists(pgid)
	}
	return alive
}

// BecomeSubreaper marks this process a child subreaper
// (PR_SET_CHILD_SUBREAPER): orphaned descendants, such as a job's
// grandchildren whose parent exited, are then reparented to it instead of
// to PID 1, and ReapOrphans reaps them. It is for a baton that is not PID 1;
// Linux only (ErrUnsupported elsewhere).
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return &os.SyscallError{Syscall: "prctl(PR_SET_CHILD_SUBREAPER)", Err: err}
	}
	return nil
}

// isSubreaper reports whether PR_SET_CHILD_SUBREAPER is set on this process.
func isSubreaper() (bool, error) {
	var v int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0); err != nil {
		return false, &os.SyscallError{Syscall: "prctl(PR_GET_CHILD_SUBREAPER)", Err: err}
	}
	return v != 0, nil
}
