package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"

	jitter "github.com/baton-dev/baton/internal/backoff"
	"github.com/baton-dev/baton/internal/defaults"
	"github.com/baton-dev/baton/pkg/election"
)

// Defaults for Options fields left zero.
const (
	DefaultLabelKey            = "baton.dev/leader"
	DefaultConditionType       = "baton.dev/leader"
	DefaultResync              = 15 * time.Second
	DefaultMinBackoff          = 200 * time.Millisecond
	DefaultMaxBackoff          = 30 * time.Second
	DefaultShutdownTimeout     = 2 * time.Second
	DefaultReportingController = "baton.dev/sidecar"
	// MaxPendingEvents bounds the queue of Events not yet created.
	MaxPendingEvents = 16
)

// LockAnnotation is the pod annotation that names the lock a pod's leader
// label is about. The stale-label sweep touches only pods whose annotation
// names the sweeper's lock.
const LockAnnotation = "baton.dev/lock"

// Source is what a Publisher observes. *election.Elector implements it.
type Source interface {
	// Status returns a snapshot; Leader is computed at the read.
	Status() election.Status
	// Changed returns a channel closed at the next change of status.
	Changed() <-chan struct{}
}

var _ Source = (*election.Elector)(nil)

// Options configures a Publisher. Zero values take the documented defaults.
type Options struct {
	// Client talks to the API server, usually NewClient's. Required. Its
	// calls are direct: no informers, no caches.
	Client Client
	// Namespace and PodName name this replica's own pod, usually from the
	// downward API (POD_NAMESPACE, POD_NAME). Required.
	Namespace string
	PodName   string

	// LabelKey is the pod label set to "true" or "false". Default
	// DefaultLabelKey, baton.dev/leader. It must be a valid label key.
	LabelKey string
	// ConditionType is the pod condition's type. Default
	// DefaultConditionType, baton.dev/leader.
	ConditionType string
	// ReportingController is the Events' reportingController. Default
	// DefaultReportingController.
	ReportingController string

	// Resync is the period of a full sync while nothing changes: it repairs
	// drift and, on the leader, sweeps for stale labels. Default 15s; the
	// sidecar uses the lease TTL.
	Resync time.Duration
	// MinBackoff and MaxBackoff bound the exponential back-off after a
	// failed sync. Defaults 200ms and 30s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// ShutdownTimeout bounds the final publication of leader=false when
	// Run's context ends. Default 2s.
	ShutdownTimeout time.Duration
	// UnmarkTimeout bounds Unmark in Lead, the label's step to false before
	// the lock is released. Default DefaultUnmarkTimeout, 500ms.
	UnmarkTimeout time.Duration

	// OnTerminating is called once, from the publisher's goroutine, when
	// the own pod is seen being deleted (through a watch of the pod, and at
	// each sync's read of it). The sidecar passes the elector's Withdraw,
	// so that a pod on its way out takes no new term. Optional; without it
	// the pod is not watched.
	OnTerminating func()

	// Metrics receives counts; nil records nothing. See NewMetrics.
	Metrics *Metrics
	// Logger receives one line per published change and per run of
	// failures. Default: a logger that discards.
	Logger *slog.Logger
	// Clock drives re-syncs and back-offs; tests inject a fake one. Default:
	// the real clock.
	Clock clock.WithTicker
}

// ErrAlreadyRunning is returned by a second concurrent Run.
var ErrAlreadyRunning = errors.New("kube: publisher already running")

// Publisher mirrors a Source's leadership onto its pod. See the package
// documentation for what it writes and when.
type Publisher struct {
	src  Source
	opts Options
	log  *slog.Logger

	// wake (capacity 1) tells the worker that want changed.
	wake chan struct{}

	// labelMu (capacity 1) serializes the writes of the own leader label,
	// the worker's and Unmark's; markedTrue, guarded by it, is whether the
	// last one written was "true".
	labelMu    chan struct{}
	markedTrue bool
	// terminating is set once OnTerminating has been called.
	terminating atomic.Bool

	mu      sync.Mutex
	running bool
	track   tracker
	want    desired
	pending []event
	seq     uint64 // numbers the queued Events
}

// New validates opts, fills in its defaults and returns a Publisher. It
// makes no API call.
func New(src Source, opts Options) (*Publisher, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil Source", ErrInvalidOptions)
	}
	if opts.Client == nil {
		return nil, invalid("Client", "is required")
	}
	if opts.Namespace == "" {
		return nil, invalid("Namespace", "is required")
	}
	if opts.PodName == "" {
		return nil, invalid("PodName", "is required")
	}
	if opts.LabelKey == "" {
		opts.LabelKey = DefaultLabelKey
	}
	if errs := validation.IsQualifiedName(opts.LabelKey); len(errs) > 0 {
		return nil, invalid("LabelKey", "must be a label key (got %q): %s", opts.LabelKey, errs[0])
	}
	if opts.ConditionType == "" {
		opts.ConditionType = DefaultConditionType
	}
	if errs := validation.IsQualifiedName(opts.ConditionType); len(errs) > 0 {
		return nil, invalid("ConditionType", "must be a qualified name (got %q): %s", opts.ConditionType, errs[0])
	}
	if opts.ReportingController == "" {
		opts.ReportingController = DefaultReportingController
	}
	if err := defaults.Durations(
		defaults.Duration{Name: "Resync", Value: &opts.Resync, Default: DefaultResync},
		defaults.Duration{Name: "MinBackoff", Value: &opts.MinBackoff, Default: DefaultMinBackoff},
		defaults.Duration{Name: "MaxBackoff", Value: &opts.MaxBackoff, Default: DefaultMaxBackoff},
		defaults.Duration{Name: "ShutdownTimeout", Value: &opts.ShutdownTimeout, Default: DefaultShutdownTimeout},
		defaults.Duration{Name: "UnmarkTimeout", Value: &opts.UnmarkTimeout, Default: DefaultUnmarkTimeout},
	); err != nil {
		return nil, invalidField(err)
	}
	if opts.MaxBackoff < opts.MinBackoff {
		return nil, invalid("MaxBackoff", "must not be below {MinBackoff} (got %v < %v)", opts.MaxBackoff, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Publisher{
		src:     src,
		opts:    opts,
		log:     opts.Logger.With("pod", opts.PodName, "namespace", opts.Namespace),
		wake:    make(chan struct{}, 1),
		labelMu: make(chan struct{}, 1),
	}, nil
}

// Run publishes until ctx ends, then publishes leader=false one last time,
// within ShutdownTimeout, and returns. It returns nil unless it was already
// running. Call it before the elector's Run, so that the first publication
// (leader=false, as a starting sidecar does not lead) fixes a label left
// over from a crash, and stop it after the elector's Run has returned.
func (p *Publisher) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return ErrAlreadyRunning
	}
	p.running = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
	}()

	p.log.Info("kubernetes publisher started", "label", p.opts.LabelKey, "condition", p.opts.ConditionType)
	p.observe(p.src.Status())
	var wg sync.WaitGroup
	wg.Go(func() { p.watch(ctx) })
	wg.Go(func() { p.watchTerminating(ctx) })
	p.work(ctx)
	wg.Wait()

	// Record the elector's final step-down, then publish not-leader.
	p.observe(p.src.Status())
	p.mu.Lock()
	p.want = shutdown(p.src.Status())
	p.mu.Unlock()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.ShutdownTimeout)
	defer cancel()
	if err := p.retry(fctx); err != nil {
		p.log.Warn("kubernetes publisher stopped without publishing leader=false", "err", err)
	} else {
		p.log.Info("kubernetes publisher stopped", "label", p.opts.LabelKey+"=false")
	}
	return nil
}

// observe folds a snapshot into the desired state and the Event queue, and
// wakes the worker if anything changed.
func (p *Publisher) observe(st election.Status) {
	p.mu.Lock()
	d, evs := p.track.observe(st, p.opts.Clock.Now())
	changed := d != p.want || len(evs) > 0
	p.want = d
	for _, ev := range evs {
		p.seq++
		ev.seq = p.seq
		if len(p.pending) == MaxPendingEvents {
			p.pending = p.pending[1:]
			p.opts.Metrics.dropped()
		}
		p.pending = append(p.pending, ev)
	}
	p.mu.Unlock()
	if changed {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// watch observes the source at each change, and when a term's validity runs
// out (Leader is computed on read, so that is a change without a wake-up).
func (p *Publisher) watch(ctx context.Context) {
	for {
		changed := p.src.Changed()
		st := p.src.Status()
		p.observe(st)
		var (
			expire <-chan time.Time
			timer  clock.Timer
		)
		if st.Leader {
			timer = p.opts.Clock.NewTimer(st.Remaining)
			expire = timer.C()
		}
		select {
		case <-changed:
		case <-expire:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// work syncs the latest desired state at each change and every Resync, and
// backs off after failures. Changes that arrive during a back-off wait for
// it: only the latest state is published when it ends.
func (p *Publisher) work(ctx context.Context) {
	var (
		failures int
		lastErr  string
	)
	for {
		err := p.sync(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err != nil {
			failures++
			wait = backoff(p.opts.MinBackoff, p.opts.MaxBackoff, failures)
			if msg := err.Error(); failures == 1 || msg != lastErr {
				p.log.Warn("kubernetes publish failed; retrying with back-off", "err", err,
					"attempt", failures, "retry_in", wait.String())
				lastErr = msg
			} else {
				p.log.Debug("kubernetes publish failed again", "err", err, "attempt", failures, "retry_in", wait.String())
			}
		} else {
			if failures > 0 {
				p.log.Info("kubernetes publish recovered", "failed_attempts", failures)
			}
			failures, lastErr = 0, ""
			wait = p.opts.Resync
		}
		t := p.opts.Clock.NewTimer(wait)
		if err != nil {
			select {
			case <-t.C():
			case <-ctx.Done():
			}
		} else {
			select {
			case <-t.C():
			case <-p.wake:
			case <-ctx.Done():
			}
		}
		t.Stop()
		if ctx.Err() != nil {
			return
		}
	}
}

// retry syncs until it succeeds or ctx ends.
func (p *Publisher) retry(ctx context.Context) error {
	for n := 1; ; n++ {
		err := p.sync(ctx)
		if err == nil {
			return nil
		}
		t := p.opts.Clock.NewTimer(backoff(p.opts.MinBackoff, p.opts.MaxBackoff, n))
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// backoff is the wait after the n-th consecutive failure: min doubling up to
// max, spread by ±20% so that pods failing together do not retry together.
func backoff(minD, maxD time.Duration, n int) time.Duration {
	d := minD
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	return jitter.Jitter(min(d, maxD))
}
