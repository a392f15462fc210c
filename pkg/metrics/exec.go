package metrics

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-dev/baton/internal/promreg"
)

// stopBuckets cover a child's stop, from an instant exit to a grace of
// tens of seconds.
var stopBuckets = []float64{.001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Exec is exec mode's metrics: the child that baton runs while it leads.
type Exec struct {
	starts prometheus.Counter
	exits  *prometheus.CounterVec
	kills  prometheus.Counter
	stop   prometheus.Histogram
}

// NewExec creates exec mode's metrics and registers them on reg, all or
// none.
func NewExec(reg prometheus.Registerer) (*Exec, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil Registerer", ErrInvalidArgument)
	}
	m := &Exec{
		starts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_child_starts_total",
			Help: "Children started in exec mode.",
		}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_child_exits_total",
			Help: "Children reaped in exec mode, by exit status (128+N for signal N; 126 and 127 for a failed start).",
		}, []string{"status"}),
		kills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_child_kills_total",
			Help: "SIGKILLs sent to a child's process group: the kill grace ran out, or a second signal.",
		}),
		stop: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "baton_child_stop_seconds",
			Help:    "Time from the end of leadership to the death of the child's whole process group.",
			Buckets: stopBuckets,
		}),
	}
	m.exits.WithLabelValues("0")
	if err := promreg.Register(reg, m.starts, m.exits, m.kills, m.stop); err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	return m, nil
}

// ChildStarted counts one child started.
func (m *Exec) ChildStarted() { m.starts.Inc() }

// ChildExited counts one child reaped with exit status code (0 to 255).
func (m *Exec) ChildExited(code int) { m.exits.WithLabelValues(strconv.Itoa(code)).Inc() }

// GroupKilled counts one SIGKILL sent to a child's group.
func (m *Exec) GroupKilled() { m.kills.Inc() }

// ChildStopped records how long one stop took.
func (m *Exec) ChildStopped(d time.Duration) { m.stop.Observe(d.Seconds()) }
