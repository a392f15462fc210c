package metrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/pkg/metrics"
)

func TestScheduleMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewSchedule(reg, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	const (
		lastSuccess = `baton_run_last_success_timestamp_seconds{job="nightly"}`
		window      = `baton_run_window_seconds{job="nightly"}`
		next        = `baton_run_next_window_timestamp_seconds{job="nightly"}`
		previous    = `baton_run_previous_window_start_timestamp_seconds{job="nightly"}`
		missed      = `baton_run_missed_windows_total{job="nightly"}`
	)
	// From the start: every result and the missed windows at 0, and no
	// success, window or next window yet.
	got := series(t, reg)
	for _, r := range []string{"succeeded", "failed", "lost", "canceled"} {
		name := `baton_runs_total{job="nightly",result="` + r + `"}`
		if v, ok := got[name]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 from the start", name, v, ok)
		}
	}
	if v, ok := got[missed]; !ok || v != 0 {
		t.Errorf("%s = %v (present %v), want 0 from the start", missed, v, ok)
	}
	for _, name := range []string{lastSuccess, window, next, previous} {
		if _, ok := got[name]; ok {
			t.Errorf("%s present before any value", name)
		}
	}

	start := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	m.Window("nightly", start.Add(-72*time.Hour), start, start.Add(24*time.Hour)) // a Monday after a weekend
	m.RunEnded("nightly", "succeeded")
	m.RunEnded("nightly", "failed")
	m.RunEnded("nightly", "failed")
	m.RunEnded("nightly", "lost")
	m.RunEnded("nightly", "exploded")
	m.LastSuccess("nightly", start.Add(-time.Hour))
	m.LastSuccess("nightly", start.Add(1500*time.Millisecond))
	m.LastSuccess("nightly", time.Time{}) // none: ignored
	m.MissedWindows("nightly", 3)
	m.MissedWindows("nightly", 0)
	m.Window("nightly", start.Add(-time.Hour), start, time.Time{}) // fires no more: unchanged
	got = series(t, reg)
	for name, want := range map[string]float64{
		`baton_runs_total{job="nightly",result="succeeded"}`: 1,
		`baton_runs_total{job="nightly",result="failed"}`:    2,
		`baton_runs_total{job="nightly",result="lost"}`:      1,
		`baton_runs_total{job="nightly",result="canceled"}`:  0,
		`baton_runs_total{job="nightly",result="other"}`:     1,
		lastSuccess: float64(start.Unix()) + 1.5,
		window:      24 * 3600,
		next:        float64(start.Add(24 * time.Hour).Unix()),
		previous:    float64(start.Add(-72 * time.Hour).Unix()),
		missed:      3,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

func TestNewScheduleErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.NewSchedule(reg, "j"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		reg     prometheus.Registerer
		job     string
		invalid bool
	}{
		{"nil registerer", nil, "j", true},
		{"empty job", prometheus.NewRegistry(), "", true},
		{"registered twice", reg, "j", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metrics.NewSchedule(tc.reg, tc.job)
			if err == nil {
				t.Fatal("NewSchedule succeeded")
			}
			if errors.Is(err, metrics.ErrInvalidArgument) != tc.invalid {
				t.Errorf("NewSchedule: %v; ErrInvalidArgument %v, want %v", err, !tc.invalid, tc.invalid)
			}
		})
	}
}
