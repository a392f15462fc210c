package kube

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/internal/promreg"
)

// API operations, the values of baton_kube_api_errors_total's op label.
const (
	OpGetPod         = "get_pod"
	OpPatchPod       = "patch_pod"
	OpPatchPodStatus = "patch_pod_status"
	OpListPods       = "list_pods"
	OpCreateEvent    = "create_event"
	OpWatchPod       = "watch_pod"
)

var apiOps = []string{OpGetPod, OpPatchPod, OpPatchPodStatus, OpListPods, OpCreateEvent, OpWatchPod}

// Metrics holds the publisher's metrics. A nil *Metrics records nothing; its
// methods are safe for concurrent use.
type Metrics struct {
	apiErrors     *prometheus.CounterVec
	syncs         *prometheus.CounterVec
	lastSync      prometheus.Gauge
	corrections   prometheus.Counter
	eventsDropped prometheus.Counter
}

// NewMetrics creates the publisher's metrics and registers them on reg. It
// returns an error, and leaves reg as it was, when any of them cannot be
// registered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil Registerer", ErrInvalidOptions)
	}
	m := &Metrics{
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_kube_api_errors_total",
			Help: "Failed Kubernetes API calls of the publisher by operation: get_pod, patch_pod, patch_pod_status, list_pods, create_event or watch_pod; the API server's expected answers are not counted.",
		}, []string{"op"}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_kube_syncs_total",
			Help: "Syncs of the pod's leader label, condition and Events by result: success or error.",
		}, []string{"result"}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "baton_kube_last_sync_timestamp_seconds",
			Help: "Unix time of the publisher's last successful sync, 0 before the first.",
		}),
		corrections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_kube_stale_corrections_total",
			Help: "Other pods' stale leader labels or conditions corrected by this leader.",
		}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_kube_events_dropped_total",
			Help: "Kubernetes Events dropped because the queue of unsent Events was full.",
		}),
	}
	for _, op := range apiOps {
		m.apiErrors.WithLabelValues(op)
	}
	m.syncs.WithLabelValues("success")
	m.syncs.WithLabelValues("error")
	cs := []prometheus.Collector{m.apiErrors, m.syncs, m.lastSync, m.corrections, m.eventsDropped}
	if err := promreg.Register(reg, cs...); err != nil {
		return nil, fmt.Errorf("kube: register metrics: %w", err)
	}
	return m, nil
}

func (m *Metrics) apiError(op string) {
	if m != nil {
		m.apiErrors.WithLabelValues(op).Inc()
	}
}

func (m *Metrics) synced(err error, now time.Time) {
	if m == nil {
		return
	}
	if err != nil {
		m.syncs.WithLabelValues("error").Inc()
		return
	}
	m.syncs.WithLabelValues("success").Inc()
	m.lastSync.Set(float64(now.UnixNano()) / 1e9)
}

func (m *Metrics) corrected() {
	if m != nil {
		m.corrections.Inc()
	}
}

func (m *Metrics) dropped() {
	if m != nil {
		m.eventsDropped.Inc()
	}
}
