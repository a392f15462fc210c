package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/pkg/metrics"
)

func TestExecMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewExec(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ChildStarted()
	m.ChildStarted()
	m.ChildExited(0)
	m.ChildExited(143)
	m.GroupKilled()
	m.ChildStopped(3 * time.Millisecond)
	got := series(t, reg)
	for name, want := range map[string]float64{
		"baton_child_starts_total":              2,
		`baton_child_exits_total{status="0"}`:   1,
		`baton_child_exits_total{status="143"}`: 1,
		"baton_child_kills_total":               1,
		"baton_child_stop_seconds_count":        1,
		"baton_child_stop_seconds_sum":          0.003,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if _, err := metrics.NewExec(reg); err == nil {
		t.Error("a second NewExec on the same registry succeeded")
	}
}
