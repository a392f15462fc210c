package supervisor

import (
	"os/exec"
	"sync"
)

// registry holds the PIDs of the children that Supervisors started and have
// not reaped yet. ReapOrphans reaps every other exited child of this
// process, and must never take one of these: their Supervisor's Wait would
// find the status gone. One registry per process, since a process has one
// set of children whatever the number of Supervisors.
var registry = struct {
	// mu is held across a child's start and its registration, and across
	// each of ReapOrphans's passes: a child that exits at once is thus
	// registered before any pass can see it.
	mu   sync.Mutex
	pids map[int]bool
	// released wakes ReapOrphans after a PID leaves the registry: an
	// orphan may since have been given the same PID.
	released chan struct{}
}{pids: map[int]bool{}, released: make(chan struct{}, 1)}

// startRegistered starts cmd and registers its PID, atomically with
// respect to ReapOrphans.
func startRegistered(cmd *exec.Cmd) error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	registry.pids[cmd.Process.Pid] = true
	return nil
}

// unregister removes a reaped child's PID.
func unregister(pid int) {
	registry.mu.Lock()
	delete(registry.pids, pid)
	registry.mu.Unlock()
	select {
	case registry.released <- struct{}{}:
	default:
	}
}

// registeredLocked reports whether pid is a Supervisor's unreaped child;
// registry.mu is held.
func registeredLocked(pid int) bool { return registry.pids[pid] }
