//go:build !unix

package clocks

import "time"

var processStart = time.Now()

// MonotonicNS is, off Unix, the monotonic time since this process started:
// it orders one process's log lines, but not several processes' ones.
func MonotonicNS() int64 { return time.Since(processStart).Nanoseconds() }
