package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/internal/promreg"
)

// RunAPI is the metrics of the runs served on the API: it implements
// runsapi.RunRecorder (pkg/metrics does not import pkg/runs/httpapi).
type RunAPI struct {
	requests *prometheus.CounterVec
}

// runOps and runResults are the label values the API records; others
// count as "other", so that the labels stay bounded.
var (
	runOps     = []string{"claim", "stream", "renew", "complete", "inspect"}
	runResults = []string{"ok", "conflict", "bad_request", "canceled", "error"}
)

// NewRunAPI creates baton_run_requests_total{op,result} and registers it
// on reg.
func NewRunAPI(reg prometheus.Registerer) (*RunAPI, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil Registerer", ErrInvalidArgument)
	}
	m := &RunAPI{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baton_run_requests_total",
		Help: "Run API calls, by op (claim, stream, renew, complete, inspect) and result (ok, conflict, bad_request, canceled, error).",
	}, []string{"op", "result"})}
	if err := promreg.Register(reg, m.requests); err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	return m, nil
}

// RunRequest counts one run call.
func (m *RunAPI) RunRequest(op, result string) {
	m.requests.WithLabelValues(boundedLabel(op, runOps), boundedLabel(result, runResults)).Inc()
}
