package metrics

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

var _ election.Recorder = (*Metrics)(nil)

// Transition records a change of leadership: the leader gauges, the
// transition counter and baton_fence, which is fence while leading and 0
// after stepping down. A call that repeats the current state changes the
// fence but is not counted as a transition. Fences above 2^53 lose
// precision as a float.
func (m *Metrics) Transition(leading bool, fence uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if leading != m.leading {
		m.transitions.Inc()
		m.leading = leading
	}
	v, f := 0.0, 0.0
	if leading {
		v, f = 1, float64(fence)
	}
	m.isLeader.Set(v)
	m.masterStatus.Set(v)
	m.fence.Set(f)
}

// AcquireWaited observes the time one campaign took until it won.
func (m *Metrics) AcquireWaited(d time.Duration) {
	m.acquireWait.Observe(d.Seconds())
}

// Renewed records one renewal: its duration, and for a failure its reason.
// A renewal cancelled by the elector itself (err is context.Canceled, as at
// shutdown or resign) is neither a measurement nor a failure, and is not
// recorded.
func (m *Metrics) Renewed(d time.Duration, err error) {
	if err != nil && errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return
	}
	m.renewDuration.Observe(d.Seconds())
	if err != nil {
		m.renewFailures.WithLabelValues(failureReason(err)).Inc()
	}
}

// Error counts one failed lock operation in baton_redis_errors_total. A
// renewal that found the lease lost (election.ErrLost) is an answer from
// Redis, not an error of it: it is counted only in
// baton_renew_failures_total{reason="lost"}. An op other than acquire,
// renew, release or ping counts as "other".
func (m *Metrics) Error(op string, err error) {
	if errors.Is(err, election.ErrLost) {
		return
	}
	m.RedisError(op)
}

// RedisError counts one failed Redis operation, such as the sidecar's
// "ping". An op other than acquire, renew, release or ping counts as
// "other".
func (m *Metrics) RedisError(op string) {
	m.redisErrors.WithLabelValues(boundedLabel(op, m.errorOps)).Inc()
}

// failureReason classifies a failed renewal.
func failureReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, election.ErrLost):
		return ReasonLost
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	default:
		return ReasonError
	}
}
