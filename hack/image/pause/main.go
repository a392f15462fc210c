//go:build linux

// Command pause is the pod sandbox ("pause") image's program for the
// real-cluster tests, where no registry is reachable: it holds the pod's
// namespaces open, reaps the zombies reparented to it (it is PID 1 of a pod
// that shares its process namespace), and exits 0 on SIGTERM or SIGINT.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	os.Exit(run(sigs))
}

// run reaps on every SIGCHLD and returns the exit status 0 on any other
// signal (SIGTERM or SIGINT), or when sigs is closed.
func run(sigs <-chan os.Signal) int {
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reapAll()
			continue
		}
		return 0
	}
	return 0
}

// reapAll waits for every child that has exited, without blocking, and
// returns their PIDs. One SIGCHLD can stand for several exits, so it loops
// until no exited child is left.
func reapAll() []int {
	var reaped []int
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return reaped
		}
		reaped = append(reaped, pid)
	}
}
