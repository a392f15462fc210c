//go:build unix

package clocks

import "golang.org/x/sys/unix"

// MonotonicNS reads CLOCK_MONOTONIC, shared by every process on the
// machine, for the transition log. It returns 0 if the clock cannot be read.
func MonotonicNS() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
