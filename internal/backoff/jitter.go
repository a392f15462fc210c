// Package backoff holds the one jitter rule that the elector and the
// Kubernetes publisher share.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter spreads d uniformly over ±20%, so that replicas that failed
// together do not retry together.
func Jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}
