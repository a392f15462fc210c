//go:build unix

package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// alive reports whether pid runs: it exists and is not a zombie (the
// orphaned job's new parent may not reap it at once).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return runtime.GOOS != "linux" // no /proc: the signal is all there is
	}
	// The state follows the command's closing parenthesis: "pid (comm) S ...".
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' {
			return i+2 >= len(b) || b[i+2] != 'Z'
		}
	}
	return true
}
