package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ReapOrphans reaps the orphans that the kernel hands to this process, until
// ctx ends, for a baton that is PID 1 or a child subreaper (see
// BecomeSubreaper). It never takes a Supervisor's own child, but takes any
// other child the program starts, so such a program must start its
// children through a Supervisor only. It needs /proc.
//
// It returns ErrNotReaper at once when this process is neither PID 1 nor a
// subreaper, nil when ctx ends, and ErrUnsupported off Linux. Each reap is
// logged at debug level. log may be nil.
func ReapOrphans(ctx context.Context, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if os.Getpid() != 1 {
		sub, err := isSubreaper()
		if err != nil {
			return err
		}
		if !sub {
			return ErrNotReaper
		}
	}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	for {
		// Signals coalesce: each pass reaps every zombie there is, and a
		// SIGCHLD that comes during a pass makes another one.
		if err := reapOrphansOnce(log); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sigchld:
		case <-registry.released:
		}
	}
}

// reapOrphansOnce reaps every exited child that no Supervisor started.
func reapOrphansOnce(log *slog.Logger) error {
	self := os.Getpid()
	var zombies []int
	if err := scanProcs(func(p procStat) {
		if p.ppid == self && p.dead() {
			zombies = append(zombies, p.pid)
		}
	}); err != nil {
		return fmt.Errorf("supervisor: reap orphans: %w", err)
	}
	for _, pid := range zombies {
		if ws, ok := reapZombie(pid); ok {
			log.Debug("reaped orphan", "pid", pid, "status", describeWait(ws))
		}
	}
	return nil
}

// reapZombie reaps pid, an exited child of this process, unless a Supervisor
// started it. The registry's lock makes the check and the reap one step:
// the PID cannot meanwhile be freed and given to a new Supervisor child.
func reapZombie(pid int) (unix.WaitStatus, bool) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	var ws unix.WaitStatus
	if registeredLocked(pid) {
		return ws, false
	}
	for {
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return ws, err == nil && got == pid
	}
}

func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}
