//go:build !linux

package clocks

import "time"

// BootTime reports whether Now counts suspended time on this platform. Off
// Linux, Now is time.Now, whose monotonic reading may stop while the
// machine sleeps: the README's safety model says so.
const BootTime = false

// Now is time.Now off Linux.
func Now() time.Time { return time.Now() }
