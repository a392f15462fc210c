package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/pkg/metrics"
)

func TestLockMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewLocks(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.LockRequest("lock", "acquire", "ok")
	m.LockRequest("lock", "acquire", "ok")
	m.LockRequest("semaphore", "stream", "conflict")
	m.LockRequest("mutex", "grab", "weird")
	m.LocksHeld(7)
	got := series(t, reg)
	for name, want := range map[string]float64{
		`baton_lock_requests_total{kind="lock",op="acquire",result="ok"}`:           2,
		`baton_lock_requests_total{kind="semaphore",op="stream",result="conflict"}`: 1,
		`baton_lock_requests_total{kind="other",op="other",result="other"}`:         1,
		"baton_locks_held": 7,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if _, err := metrics.NewLocks(reg); err == nil {
		t.Error("a second NewLocks on the same registry succeeded")
	}
	if _, err := metrics.NewLocks(nil); err == nil {
		t.Error("NewLocks(nil) succeeded")
	}
}
