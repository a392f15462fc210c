package clocks

import (
	"time"

	"k8s.io/utils/clock"
)

// Real is the k8s.io/utils clock.Clock whose Now and Since use Now, and
// whose timers are Go's. A Go timer runs on the monotonic clock and so fires
// late after a suspend; code that must not trust a stale term therefore
// compares Now with its deadline on every read, not only when a timer fires.
type Real struct{ clock.RealClock }

// Now returns Now().
func (Real) Now() time.Time { return Now() }

// Since returns the time elapsed since t, on Now.
func (Real) Since(t time.Time) time.Duration { return Now().Sub(t) }
