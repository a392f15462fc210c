package election

import (
	"time"

	"golang.org/x/sys/unix"
)

// monotonicNS reads CLOCK_MONOTONIC, the clock that every process on a
// machine shares, for the transition log: a fault-injection harness can then
// order the terms of several replicas on one time line. It is only logged;
// the elector's own timing uses Config.Clock.
func monotonicNS() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// monotonicAt maps a time on the elector's clock to CLOCK_MONOTONIC, given
// a pair of readings taken together.
func monotonicAt(t, clockNow time.Time, monoNow int64) int64 {
	return monoNow + int64(t.Sub(clockNow))
}
