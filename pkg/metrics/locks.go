package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/internal/promreg"
)

// Locks is the metrics of the application's locks served on the API: it
// implements httpapi.LockRecorder (pkg/metrics does not import
// pkg/locks/httpapi, an observer like itself).
type Locks struct {
	held     prometheus.Gauge
	requests *prometheus.CounterVec
}

// lockKinds, lockOps and lockResults are the label values the API
// records; others count as "other", so that the labels stay bounded.
var (
	lockKinds   = []string{"lock", "semaphore"}
	lockOps     = []string{"acquire", "stream", "renew", "release", "inspect"}
	lockResults = []string{"ok", "conflict", "bad_request", "busy", "unsupported", "canceled", "error"}
)

// NewLocks creates the lock metrics and registers them on reg, all or
// none: baton_locks_held and baton_lock_requests_total{kind,op,result}.
func NewLocks(reg prometheus.Registerer) (*Locks, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil Registerer", ErrInvalidArgument)
	}
	m := &Locks{
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "baton_locks_held",
			Help: "Application locks and semaphore permits held through this sidecar's API.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_lock_requests_total",
			Help: "Lock API calls, by kind (lock, semaphore), op (acquire, stream, renew, release, inspect) and result (ok, conflict, bad_request, busy, unsupported, canceled, error).",
		}, []string{"kind", "op", "result"}),
	}
	if err := promreg.Register(reg, m.held, m.requests); err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	return m, nil
}

// LockRequest counts one lock call.
func (m *Locks) LockRequest(kind, op, result string) {
	m.requests.WithLabelValues(boundedLabel(kind, lockKinds), boundedLabel(op, lockOps), boundedLabel(result, lockResults)).Inc()
}

// LocksHeld sets baton_locks_held.
func (m *Locks) LocksHeld(n int) { m.held.Set(float64(n)) }

func boundedLabel(v string, known []string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return OpOther
}
