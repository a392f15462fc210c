package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/internal/promreg"
)

// Schedule is the metrics of schedule mode (`baton run --schedule`): it
// implements the scheduler's recorder in cmd/sidecar. The job label is the
// scheduled job's name, the one job of the sidecar; a Prometheus scrape
// renames it exported_job unless honor_labels is set. It is safe for
// concurrent use.
type Schedule struct {
	lastSuccess *prometheus.GaugeVec
	window      *prometheus.GaugeVec
	nextWindow  *prometheus.GaugeVec
	prevWindow  *prometheus.GaugeVec
	runs        *prometheus.CounterVec
	missed      *prometheus.CounterVec
}

// RunResults are the results of baton_runs_total; others count as
// "other", so that the label stays bounded.
var RunResults = []string{"succeeded", "failed", "lost", "canceled"}

// NewSchedule creates schedule mode's metrics and registers them on reg,
// with job's series of runs and missed windows at 0:
//
//	baton_run_last_success_timestamp_seconds{job}  gauge: when the job's last
//	                     successful run ended (Unix seconds), absent until one
//	baton_run_window_seconds{job}                  gauge: the current window's
//	                     length (next start - start)
//	baton_run_next_window_timestamp_seconds{job}   gauge: the next window's start
//	baton_run_previous_window_start_timestamp_seconds{job}  gauge: the start
//	                     of the window before the current one
//	baton_runs_total{job,result}                   counter: attempts this replica
//	                     ran, by result: succeeded, failed, lost, canceled
//	baton_run_missed_windows_total{job}            counter: windows that no
//	                     replica ran, as this replica counted them
func NewSchedule(reg prometheus.Registerer, job string) (*Schedule, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil Registerer", ErrInvalidArgument)
	}
	if job == "" {
		return nil, fmt.Errorf("%w: empty job", ErrInvalidArgument)
	}
	jobs := []string{"job"}
	m := &Schedule{
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "baton_run_last_success_timestamp_seconds",
			Help: "When the job's last successful run ended, in Unix seconds, as this replica knows it; absent until the job succeeds.",
		}, jobs),
		window: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "baton_run_window_seconds",
			Help: "The length of the job's current window: the next window's start minus its start.",
		}, jobs),
		nextWindow: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "baton_run_next_window_timestamp_seconds",
			Help: "The start of the job's next window, in Unix seconds.",
		}, jobs),
		prevWindow: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "baton_run_previous_window_start_timestamp_seconds",
			Help: "The start of the window before the job's current one, in Unix seconds: with the next window's start, the span of two windows, however uneven the schedule.",
		}, jobs),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runs_total",
			Help: "Attempts of the job that this replica ran, by result (succeeded, failed, lost, canceled).",
		}, []string{"job", "result"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_run_missed_windows_total",
			Help: "Windows of the job that no replica ran, as this replica counted them; replicas may count the same windows: aggregate with max.",
		}, jobs),
	}
	if err := promreg.Register(reg, m.lastSuccess, m.window, m.nextWindow, m.prevWindow, m.runs, m.missed); err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	for _, r := range RunResults {
		m.runs.WithLabelValues(job, r)
	}
	m.missed.WithLabelValues(job)
	return m, nil
}

// RunEnded counts one attempt of job that this replica ran, by result:
// succeeded, failed, lost or canceled; another counts as "other".
func (m *Schedule) RunEnded(job, result string) {
	m.runs.WithLabelValues(job, boundedLabel(result, RunResults)).Inc()
}

// LastSuccess notes that job's latest successful run ended at end; a zero
// end is ignored.
func (m *Schedule) LastSuccess(job string, end time.Time) {
	if !end.IsZero() {
		m.lastSuccess.WithLabelValues(job).Set(unixSeconds(end))
	}
}

// Window notes job's current window, from start to next, the next
// window's start, and previous, the start of the window before it (zero:
// unknown). A zero next (a schedule that fires no more) leaves the gauges
// as they were.
func (m *Schedule) Window(job string, previous, start, next time.Time) {
	if next.IsZero() {
		return
	}
	if !previous.IsZero() && previous.Before(start) {
		m.prevWindow.WithLabelValues(job).Set(unixSeconds(previous))
	}
	if !start.IsZero() && next.After(start) {
		m.window.WithLabelValues(job).Set(next.Sub(start).Seconds())
	}
	m.nextWindow.WithLabelValues(job).Set(unixSeconds(next))
}

// MissedWindows adds n windows of job that no replica ran.
func (m *Schedule) MissedWindows(job string, n int) {
	if n > 0 {
		m.missed.WithLabelValues(job).Add(float64(n))
	}
}

// unixSeconds is t in Unix seconds, with its fraction.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
