//go:build !unix

package main

import "os"

// alive reports whether pid runs, as far as the OS lets the demo tell.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}
