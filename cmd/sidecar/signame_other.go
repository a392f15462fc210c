//go:build !unix

package main

import (
	"os"
	"syscall"
)

// signalName is a signal's name as the API shows it.
func signalName(sig syscall.Signal) string { return sig.String() }

// forwardedSignals: exec mode is not supported off Unix.
var forwardedSignals []os.Signal
