package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/pkg/metrics"
)

func TestRunAPIMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewRunAPI(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.RunRequest("claim", "ok")
	m.RunRequest("claim", "ok")
	m.RunRequest("complete", "conflict")
	m.RunRequest("grab", "weird")
	got := series(t, reg)
	for name, want := range map[string]float64{
		`baton_run_requests_total{op="claim",result="ok"}`:          2,
		`baton_run_requests_total{op="complete",result="conflict"}`: 1,
		`baton_run_requests_total{op="other",result="other"}`:       1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if _, err := metrics.NewRunAPI(reg); err == nil {
		t.Error("a second NewRunAPI on the same registry succeeded")
	}
	if _, err := metrics.NewRunAPI(nil); err == nil {
		t.Error("NewRunAPI(nil) succeeded")
	}
}
