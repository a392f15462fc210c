package clocks

import (
	"runtime"
	"testing"
	"time"
)

func TestNowAdvancesWithTheMonotonicClock(t *testing.T) {
	// Without a suspend in between, boot time and monotonic time advance
	// alike; a wrong unit or a wrong clock would be off by orders of
	// magnitude, not by scheduling noise.
	n0, m0 := Now(), time.Now()
	time.Sleep(20 * time.Millisecond)
	dn, dm := Now().Sub(n0), time.Since(m0)
	if dn <= 0 || dn < dm/2 || dn > 2*dm+10*time.Millisecond {
		t.Errorf("Now advanced %v while the monotonic clock advanced %v", dn, dm)
	}
	if d := time.Until(Now()); d > time.Minute || d < -time.Minute {
		t.Errorf("Now is %v off the wall clock; it should look like wall time", d)
	}
	if runtime.GOOS == "linux" != BootTime {
		t.Errorf("BootTime = %v on %s", BootTime, runtime.GOOS)
	}
}

func TestMonotonicNSGrows(t *testing.T) {
	a := MonotonicNS()
	b := MonotonicNS()
	if a <= 0 || b < a {
		t.Errorf("MonotonicNS: %d then %d", a, b)
	}
}

func TestRealSince(t *testing.T) {
	var c Real
	t0 := c.Now()
	if d := c.Since(t0); d < 0 || d > time.Second {
		t.Errorf("Since = %v", d)
	}
}
