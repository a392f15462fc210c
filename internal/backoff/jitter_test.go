package backoff

import (
	"testing"
	"time"
)

func TestJitterStaysWithinTwentyPercent(t *testing.T) {
	const d = time.Second
	lo, hi := d, d
	for range 10000 {
		j := Jitter(d)
		if j < d*8/10 || j > d*12/10 {
			t.Fatalf("Jitter(%v) = %v, outside ±20%%", d, j)
		}
		lo, hi = min(lo, j), max(hi, j)
	}
	// It must actually spread: a constant would defeat its purpose.
	if hi-lo < d/5 {
		t.Errorf("Jitter spread only %v..%v over 10000 draws", lo, hi)
	}
}
