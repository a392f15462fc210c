//go:build linux

package clocks

import (
	"time"

	"golang.org/x/sys/unix"
)

// epoch pairs one wall-clock reading with one CLOCK_BOOTTIME reading, taken
// together at start-up. Now adds boot-time progress to the wall reading, so
// its values look like wall time (for logs and display) but advance exactly
// as CLOCK_BOOTTIME does: steadily, through suspends, and unmoved by steps
// of the wall clock.
var epoch = struct {
	wall time.Time
	boot int64
}{wall: time.Now().Round(0), boot: bootNS()}

// BootTime reports whether Now counts suspended time on this platform.
const BootTime = true

// Now is the current time on CLOCK_BOOTTIME, expressed on the wall-clock
// scale of the process start. The result carries no monotonic reading, so
// comparisons between two results use these values alone.
func Now() time.Time {
	return epoch.wall.Add(time.Duration(bootNS() - epoch.boot))
}

func bootNS() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		// CLOCK_BOOTTIME exists since Linux 2.6.39; should it fail, the
		// monotonic clock is the next best, and time.Now carries it.
		return time.Since(start).Nanoseconds()
	}
	return ts.Nano()
}

var start = time.Now()
