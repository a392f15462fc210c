package metrics

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/baton-dev/baton/internal/promreg"
	"github.com/baton-dev/baton/pkg/field"
)

// ErrInvalidArgument marks New's errors about its arguments; a bad value
// wraps a *field.Error named after the parameter, such as lock.
var ErrInvalidArgument = errors.New("metrics: invalid argument")

// BuildInfo is the build metadata exported as baton_build_info.
type BuildInfo struct {
	// Version is the release version, such as "v0.3.1".
	Version string
	// Revision is the VCS revision the binary was built from.
	Revision string
}

// Renewal failure reasons, the values of baton_renew_failures_total's reason
// label.
const (
	// ReasonLost: the lease was gone or someone else's (election.ErrLost).
	ReasonLost = "lost"
	// ReasonTimeout: the renewal ran out of time (a context deadline or a
	// network timeout).
	ReasonTimeout = "timeout"
	// ReasonError: any other failure.
	ReasonError = "error"
)

// Redis operations, the values of baton_redis_errors_total's op label.
const (
	OpAcquire = "acquire"
	OpRenew   = "renew"
	OpRelease = "release"
	OpPing    = "ping"
	// OpWatch is the Lease backend's watch (NewKubeLease).
	OpWatch = "watch"
	// OpOther stands for any operation name not listed above, so the label
	// stays bounded.
	OpOther = "other"
)

var (
	failureReasons = []string{ReasonLost, ReasonTimeout, ReasonError}
	redisOps       = []string{OpAcquire, OpRenew, OpRelease, OpPing, OpOther}
	kubeLeaseOps   = []string{OpAcquire, OpRenew, OpRelease, OpPing, OpWatch, OpOther}
)

// Buckets, in seconds.
var (
	// acquireWaitBuckets span 1ms (an uncontended lock) to 60s (a waiter
	// that outlived a few lease TTLs).
	acquireWaitBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30, 60}
	// renewDurationBuckets span 0.5ms (a local Redis) to 10s (a renewal
	// that ran into its deadline).
	renewDurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// Metrics holds baton's metrics. It implements election.Recorder; its
// methods are safe for concurrent use and never block.
type Metrics struct {
	isLeader      prometheus.Gauge
	masterStatus  prometheus.Gauge
	transitions   prometheus.Counter
	fence         prometheus.Gauge
	acquireWait   prometheus.Histogram
	renewDuration prometheus.Histogram
	renewFailures *prometheus.CounterVec
	redisErrors   *prometheus.CounterVec // the store's: Redis, or the Lease's API calls
	errorOps      []string

	// mu orders Transition calls, so that the leader gauges and the fence
	// always describe the same, latest, transition.
	mu      sync.Mutex
	leading bool
}

// New creates baton's metrics for the lock named lock and registers them,
// with the Go and process collectors, on reg. It returns an error, and
// leaves reg as it was, when any of them cannot be registered, for example
// because New was already called with the same registry.
func New(reg prometheus.Registerer, lock string, build BuildInfo) (*Metrics, error) {
	return newMetrics(reg, lock, build, errorCounter{
		name: "baton_redis_errors_total",
		help: "Failed Redis operations by operation: acquire, renew, release, ping or other.",
		ops:  redisOps,
	})
}

// NewKubeLease is New for the Kubernetes Lease backend (pkg/kubelease):
// its failed API calls are counted in baton_kube_lease_errors_total{op},
// op one of acquire, renew, release, ping, watch or other, and there is
// no baton_redis_errors_total.
func NewKubeLease(reg prometheus.Registerer, lock string, build BuildInfo) (*Metrics, error) {
	return newMetrics(reg, lock, build, errorCounter{
		name: "baton_kube_lease_errors_total",
		help: "Failed Kubernetes API calls of the Lease backend by operation: acquire, renew, release, ping, watch or other.",
		ops:  kubeLeaseOps,
	})
}

// errorCounter is the counter of the store's failed calls.
type errorCounter struct {
	name, help string
	ops        []string
}

func newMetrics(reg prometheus.Registerer, lock string, build BuildInfo, ec errorCounter) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil Registerer", ErrInvalidArgument)
	}
	if lock == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, field.Invalid("lock", "must not be empty"))
	}
	m := &Metrics{
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "baton_is_leader",
			Help: "Whether this replica currently leads: 1 if leading, 0 if not.",
		}),
		masterStatus: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "leader_election_master_status",
			Help:        "Whether this replica currently leads the named lock: 1 if leading, 0 if not.",
			ConstLabels: prometheus.Labels{"name": lock},
		}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_leader_transitions_total",
			Help: "Changes of leadership of this replica, both gaining and losing it.",
		}),
		fence: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "baton_fence",
			Help: "Fencing token of the current term while leading, 0 when not leading.",
		}),
		acquireWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "baton_acquire_wait_seconds",
			Help:    "Time from starting to campaign for the lock to winning it.",
			Buckets: acquireWaitBuckets,
		}),
		renewDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "baton_renew_duration_seconds",
			Help:    "Duration of lease renewals, successful or not.",
			Buckets: renewDurationBuckets,
		}),
		renewFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_renew_failures_total",
			Help: "Failed lease renewals by reason: lost, timeout or error.",
		}, []string{"reason"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ec.name, Help: ec.help}, []string{"op"}),
		errorOps:    ec.ops,
	}
	for _, r := range failureReasons {
		m.renewFailures.WithLabelValues(r)
	}
	for _, op := range ec.ops {
		m.redisErrors.WithLabelValues(op)
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "baton_build_info",
		Help: "Build metadata of the running baton; the value is always 1.",
		ConstLabels: prometheus.Labels{
			"version":   build.Version,
			"revision":  build.Revision,
			"goversion": runtime.Version(),
		},
	})
	buildInfo.Set(1)

	cs := []prometheus.Collector{
		m.isLeader, m.masterStatus, m.transitions, m.fence,
		m.acquireWait, m.renewDuration, m.renewFailures, m.redisErrors,
		buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if err := promreg.Register(reg, cs...); err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	return m, nil
}
