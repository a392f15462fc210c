package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/metrics"
)

var build = metrics.BuildInfo{Version: "v1.2.3", Revision: "abc123"}

func newMetrics(t *testing.T) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, "my-lock", build)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

// series gathers reg into "name{label="value",...}" -> value, for baton's
// own metrics. A histogram gives name_count and name_sum.
func series(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(labels)
			suffix := ""
			if len(labels) > 0 {
				suffix = "{" + strings.Join(labels, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name+suffix] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+suffix] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+suffix] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+suffix] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func TestNewRegistersEverySeries(t *testing.T) {
	_, reg := newMetrics(t)
	tests := []struct {
		name   string
		series int
	}{
		{"baton_is_leader", 1},
		{"leader_election_master_status", 1},
		{"baton_leader_transitions_total", 1},
		{"baton_fence", 1},
		{"baton_acquire_wait_seconds", 1},
		{"baton_renew_duration_seconds", 1},
		{"baton_renew_failures_total", 3},
		{"baton_redis_errors_total", 5},
		{"baton_build_info", 1},
		{"go_goroutines", 1},
		{"go_info", 1},
		{"process_start_time_seconds", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := testutil.GatherAndCount(reg, tt.name)
			if err != nil {
				t.Fatalf("GatherAndCount: %v", err)
			}
			if n != tt.series {
				t.Errorf("%s has %d series, want %d", tt.name, n, tt.series)
			}
		})
	}
}

func TestInitialValues(t *testing.T) {
	_, reg := newMetrics(t)
	want := fmt.Sprintf(`
# HELP baton_build_info Build metadata of the running baton; the value is always 1.
# TYPE baton_build_info gauge
baton_build_info{goversion=%q,revision="abc123",version="v1.2.3"} 1
# HELP baton_is_leader Whether this replica currently leads: 1 if leading, 0 if not.
# TYPE baton_is_leader gauge
baton_is_leader 0
# HELP leader_election_master_status Whether this replica currently leads the named lock: 1 if leading, 0 if not.
# TYPE leader_election_master_status gauge
leader_election_master_status{name="my-lock"} 0
# HELP baton_renew_failures_total Failed lease renewals by reason: lost, timeout or error.
# TYPE baton_renew_failures_total counter
baton_renew_failures_total{reason="error"} 0
baton_renew_failures_total{reason="lost"} 0
baton_renew_failures_total{reason="timeout"} 0
# HELP baton_redis_errors_total Failed Redis operations by operation: acquire, renew, release, ping or other.
# TYPE baton_redis_errors_total counter
baton_redis_errors_total{op="acquire"} 0
baton_redis_errors_total{op="other"} 0
baton_redis_errors_total{op="ping"} 0
baton_redis_errors_total{op="release"} 0
baton_redis_errors_total{op="renew"} 0
`, runtime.Version())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"baton_build_info", "baton_is_leader", "leader_election_master_status",
		"baton_renew_failures_total", "baton_redis_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestLint(t *testing.T) {
	m, reg := newMetrics(t)
	// Exercise every metric so that each one has samples to lint.
	m.Transition(true, 3)
	m.AcquireWaited(time.Second)
	m.Renewed(time.Millisecond, errors.New("boom"))
	m.Error("acquire", errors.New("boom"))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

type netError struct{}

func (netError) Error() string   { return "connection refused" }
func (netError) Timeout() bool   { return false }
func (netError) Temporary() bool { return false }

func TestRecorder(t *testing.T) {
	lost := fmt.Errorf("%w: %w", election.ErrLost, errors.New("redislock: lost"))
	tests := []struct {
		name  string
		drive func(m *metrics.Metrics)
		want  map[string]float64
	}{{
		name:  "start leading",
		drive: func(m *metrics.Metrics) { m.Transition(true, 42) },
		want: map[string]float64{
			"baton_is_leader": 1, `leader_election_master_status{name="my-lock"}`: 1,
			"baton_leader_transitions_total": 1, "baton_fence": 42,
		},
	}, {
		name: "lead then stop",
		drive: func(m *metrics.Metrics) {
			m.Transition(true, 42)
			m.Transition(false, 42)
		},
		want: map[string]float64{
			"baton_is_leader": 0, `leader_election_master_status{name="my-lock"}`: 0,
			"baton_leader_transitions_total": 2, "baton_fence": 0,
		},
	}, {
		name: "two terms",
		drive: func(m *metrics.Metrics) {
			m.Transition(true, 1)
			m.Transition(false, 1)
			m.Transition(true, 5)
		},
		want: map[string]float64{
			"baton_is_leader": 1, "baton_leader_transitions_total": 3, "baton_fence": 5,
		},
	}, {
		name: "repeated state is not a transition",
		drive: func(m *metrics.Metrics) {
			m.Transition(true, 1)
			m.Transition(true, 2)
			m.Transition(false, 2)
			m.Transition(false, 2)
		},
		want: map[string]float64{"baton_leader_transitions_total": 2, "baton_fence": 0},
	}, {
		name: "acquire waits",
		drive: func(m *metrics.Metrics) {
			m.AcquireWaited(1500 * time.Millisecond)
			m.AcquireWaited(500 * time.Millisecond)
		},
		want: map[string]float64{"baton_acquire_wait_seconds_count": 2, "baton_acquire_wait_seconds_sum": 2},
	}, {
		name:  "successful renew",
		drive: func(m *metrics.Metrics) { m.Renewed(250*time.Millisecond, nil) },
		want: map[string]float64{
			"baton_renew_duration_seconds_count": 1, "baton_renew_duration_seconds_sum": 0.25,
			`baton_renew_failures_total{reason="lost"}`:    0,
			`baton_renew_failures_total{reason="timeout"}`: 0,
			`baton_renew_failures_total{reason="error"}`:   0,
		},
	}, {
		name:  "renew lost",
		drive: func(m *metrics.Metrics) { m.Renewed(time.Millisecond, lost) },
		want: map[string]float64{
			"baton_renew_duration_seconds_count":        1,
			`baton_renew_failures_total{reason="lost"}`: 1, `baton_renew_failures_total{reason="error"}`: 0,
		},
	}, {
		name: "renew deadline exceeded",
		drive: func(m *metrics.Metrics) {
			m.Renewed(time.Second, fmt.Errorf("renew: %w", context.DeadlineExceeded))
		},
		want: map[string]float64{`baton_renew_failures_total{reason="timeout"}`: 1},
	}, {
		name: "renew network timeout",
		drive: func(m *metrics.Metrics) {
			m.Renewed(time.Second, fmt.Errorf("dial: %w", timeoutError{}))
		},
		want: map[string]float64{`baton_renew_failures_total{reason="timeout"}`: 1},
	}, {
		name:  "renew network error without timeout",
		drive: func(m *metrics.Metrics) { m.Renewed(time.Second, netError{}) },
		want: map[string]float64{
			`baton_renew_failures_total{reason="error"}`: 1, `baton_renew_failures_total{reason="timeout"}`: 0,
		},
	}, {
		name:  "renew other error",
		drive: func(m *metrics.Metrics) { m.Renewed(time.Second, errors.New("ERR unknown command")) },
		want:  map[string]float64{`baton_renew_failures_total{reason="error"}`: 1},
	}, {
		name:  "renew cancelled by the elector is not recorded",
		drive: func(m *metrics.Metrics) { m.Renewed(time.Second, fmt.Errorf("renew: %w", context.Canceled)) },
		want: map[string]float64{
			"baton_renew_duration_seconds_count":         0,
			`baton_renew_failures_total{reason="error"}`: 0,
		},
	}, {
		name: "lock errors by op",
		drive: func(m *metrics.Metrics) {
			m.Error("acquire", errors.New("boom"))
			m.Error("acquire", errors.New("boom"))
			m.Error("renew", errors.New("boom"))
			m.Error("release", errors.New("boom"))
		},
		want: map[string]float64{
			`baton_redis_errors_total{op="acquire"}`: 2, `baton_redis_errors_total{op="renew"}`: 1,
			`baton_redis_errors_total{op="release"}`: 1, `baton_redis_errors_total{op="ping"}`: 0,
			`baton_redis_errors_total{op="other"}`: 0,
		},
	}, {
		name:  "lost lease is not a redis error",
		drive: func(m *metrics.Metrics) { m.Error("renew", lost) },
		want:  map[string]float64{`baton_redis_errors_total{op="renew"}`: 0},
	}, {
		name: "unknown ops are other",
		drive: func(m *metrics.Metrics) {
			m.Error("eval", errors.New("boom"))
			m.RedisError("")
			m.RedisError("user-supplied-thing")
		},
		want: map[string]float64{`baton_redis_errors_total{op="other"}`: 3},
	}, {
		name: "ping errors",
		drive: func(m *metrics.Metrics) {
			m.RedisError("ping")
			m.RedisError("ping")
		},
		want: map[string]float64{`baton_redis_errors_total{op="ping"}`: 2},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			tt.drive(m)
			got := series(t, reg)
			for k, want := range tt.want {
				v, ok := got[k]
				if !ok {
					t.Errorf("no series %s", k)
					continue
				}
				if v != want {
					t.Errorf("%s = %v, want %v", k, v, want)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, reg *prometheus.Registry)
		reg   func(reg *prometheus.Registry) prometheus.Registerer
		lock  string
	}{{
		name: "second New on the same registry",
		setup: func(t *testing.T, reg *prometheus.Registry) {
			if _, err := metrics.New(reg, "my-lock", build); err != nil {
				t.Fatalf("first New: %v", err)
			}
		},
		lock: "my-lock",
	}, {
		name: "registry that already has a Go collector",
		setup: func(t *testing.T, reg *prometheus.Registry) {
			reg.MustRegister(collectors.NewGoCollector())
		},
		lock: "my-lock",
	}, {
		name: "nil registerer",
		reg:  func(*prometheus.Registry) prometheus.Registerer { return nil },
		lock: "my-lock",
	}, {
		name: "empty lock name",
		lock: "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			if tt.setup != nil {
				tt.setup(t, reg)
			}
			before := gatheredNames(t, reg)
			var r prometheus.Registerer = reg
			if tt.reg != nil {
				r = tt.reg(reg)
			}
			m, err := metrics.New(r, tt.lock, build)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if m != nil {
				t.Errorf("New returned %v with its error, want nil", m)
			}
			if !strings.HasPrefix(err.Error(), "metrics: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			// A failed New leaves the registry as it was.
			if after := gatheredNames(t, reg); !slices.Equal(before, after) {
				t.Errorf("registry changed by a failed New:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestNewEmptyLockIsAFieldError(t *testing.T) {
	_, err := metrics.New(prometheus.NewRegistry(), "", build)
	var fe *field.Error
	if !errors.Is(err, metrics.ErrInvalidArgument) || !errors.As(err, &fe) || fe.Field != "lock" {
		t.Fatalf("New with an empty lock: %v, want ErrInvalidArgument and a *field.Error for lock", err)
	}
}

func TestNewTwiceIsAlreadyRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, "my-lock", build); err != nil {
		t.Fatalf("first New: %v", err)
	}
	_, err := metrics.New(reg, "my-lock", build)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("second New: %v, want a prometheus.AlreadyRegisteredError", err)
	}
}

func gatheredNames(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	names := make([]string, 0, len(mfs))
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

func TestConcurrentUse(t *testing.T) {
	m, reg := newMetrics(t)
	const n = 8
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 100 {
				m.Transition(j%2 == 0, uint64(i))
				m.Renewed(time.Millisecond, nil)
				m.RedisError("ping")
			}
		}()
	}
	for range n {
		<-done
	}
	got := series(t, reg)
	if v := got["baton_renew_duration_seconds_count"]; v != n*100 {
		t.Errorf("renewals counted %v, want %d", v, n*100)
	}
	if v := got[`baton_redis_errors_total{op="ping"}`]; v != n*100 {
		t.Errorf("ping errors counted %v, want %d", v, n*100)
	}
	// Each goroutine ends on a step-down, so the last transition was one.
	if got["baton_is_leader"] != 0 || got["baton_fence"] != 0 {
		t.Errorf("after a final step-down: is_leader %v, fence %v, want 0, 0", got["baton_is_leader"], got["baton_fence"])
	}
}

func ExampleNew() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, "my-lock", metrics.BuildInfo{Version: "v1.0.0", Revision: "abc123"})
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Transition(true, 7)
	n, _ := testutil.GatherAndCount(reg, "baton_is_leader", "baton_fence")
	fmt.Println(n)
	// Output: 2
}
