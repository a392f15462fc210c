package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// kubeEnv is a kube-apiserver with etcd, started by controller-runtime's
// envtest on loopback.
type kubeEnv struct {
	env     *envtest.Environment
	cfg     *rest.Config
	version string
}

// startKube starts it with an audit log of every request on a Lease at
// auditPath (blocking mode: each event is written before its answer).
func startKube(ctx context.Context, assets, auditPath string) (*kubeEnv, error) {
	// client-go and envtest log through klog and logr: keep them quiet.
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())
	te := &envtest.Environment{BinaryAssetsDirectory: assets, ControlPlaneStartTimeout: 2 * time.Minute}
	policy := filepath.Join(filepath.Dir(auditPath), "kube-audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return nil, err
	}
	te.ControlPlane.GetAPIServer().Configure().
		Set("audit-policy-file", policy).
		Set("audit-log-path", auditPath).
		Set("audit-log-mode", "blocking")
	cfg, err := te.Start()
	if err != nil {
		return nil, err
	}
	k := &kubeEnv{env: te, cfg: cfg, version: "unknown"}
	if cs, err := kubernetes.NewForConfig(cfg); err == nil {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			k.version = v.GitVersion
		}
	}
	// A kube-apiserver built from the module proxy has no version stamped
	// in; the assets directory (kube-<version>) names it.
	if strings.HasPrefix(k.version, "v0.0.0") || k.version == "unknown" {
		if v, ok := strings.CutPrefix(filepath.Base(filepath.Clean(assets)), "kube-"); ok {
			k.version = "v" + v + " (built from source; the binary reports " + k.version + ")"
		}
	}
	return k, ctx.Err()
}

func (k *kubeEnv) stop() { _ = k.env.Stop() }

// kubeTimings are client-go's three durations.
type kubeTimings struct {
	lease, renew, retry time.Duration
}

// usualKube is client-go's usual 15s/10s/2s, as in kube-controller-manager.
var usualKube = kubeTimings{15 * time.Second, 10 * time.Second, 2 * time.Second}

// scaledKube is the usual timings scaled to a lease of ttl.
func scaledKube(ttl time.Duration) kubeTimings {
	return kubeTimings{ttl, (ttl * 2 / 3).Round(time.Millisecond), (ttl * 2 / 15).Round(time.Millisecond)}
}

func (t kubeTimings) String() string {
	return fmt.Sprintf("%v/%v/%v", t.lease, t.renew, t.retry)
}

// reqRecorder wraps a candidate's transport: it counts requests to the
// apiserver and remembers when the last successful lease update was sent.
type reqRecorder struct {
	next http.RoundTripper

	mu      sync.Mutex
	n       int64
	writes  int64 // PUT and POST: the Lease's updates and creates
	lastPut time.Time
}

func (r *reqRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := time.Now()
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	r.n++
	if req.Method == http.MethodPut || req.Method == http.MethodPost {
		r.writes++
	}
	if err == nil && (req.Method == http.MethodPut || req.Method == http.MethodPost) && resp.StatusCode < 300 {
		r.lastPut = sent
	}
	r.mu.Unlock()
	return resp, err
}

func (r *reqRecorder) count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *reqRecorder) writeCount() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes
}

func (r *reqRecorder) lastUpdate() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastPut
}

// kubeGroup is client-go leader electors on one Lease.
type kubeGroup struct {
	k       *kubeEnv
	name    string
	t       kubeTimings
	release bool // ReleaseOnCancel
	events  chan leadEvent
	cands   []*kubeCand
}

type kubeCand struct {
	who    int
	rec    *reqRecorder
	cancel context.CancelFunc
	done   chan struct{}
}

func newKubeGroup(ctx context.Context, k *kubeEnv, name string, n int, t kubeTimings, releaseOnCancel bool) (*kubeGroup, error) {
	g := &kubeGroup{k: k, name: name, t: t, release: releaseOnCancel, events: make(chan leadEvent, 1024)}
	for i := range n {
		c := &kubeCand{who: i}
		g.cands = append(g.cands, c)
		if err := g.start(ctx, c); err != nil {
			g.close()
			return nil, err
		}
	}
	return g, nil
}

// start runs candidate c's elector, first or again after it stopped: a
// client-go LeaderElector runs one term at most.
func (g *kubeGroup) start(ctx context.Context, c *kubeCand) error {
	cfg := rest.CopyConfig(g.k.cfg)
	// Client-side rate limits are not what is measured here.
	cfg.QPS, cfg.Burst = 1000, 1000
	c.rec = &reqRecorder{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { c.rec.next = rt; return c.rec })
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: g.name, Namespace: "default"},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: fmt.Sprintf("cand-%d", c.who)},
		},
		LeaseDuration:   g.t.lease,
		RenewDeadline:   g.t.renew,
		RetryPeriod:     g.t.retry,
		ReleaseOnCancel: g.release,
		Name:            g.name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { g.events <- leadEvent{who: c.who, at: time.Now()} },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		le.Run(rctx)
	}()
	return nil
}

func (g *kubeGroup) next(ctx context.Context, limit time.Duration) (leadEvent, error) {
	return nextLeadEvent(ctx, g.events, limit, "lease "+g.name)
}

// stopCand cancels candidate who's elector and waits for Run to return
// (after its release, with ReleaseOnCancel).
func (g *kubeGroup) stopCand(who int) error {
	c := g.cands[who]
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-time.After(g.t.renew + 5*time.Second):
		return fmt.Errorf("lease %s: elector did not stop", g.name)
	}
}

// waitFirstRequest waits until candidate who has sent a request since it
// was started, i.e. has made its first try.
func (g *kubeGroup) waitFirstRequest(ctx context.Context, who int) error {
	deadline := time.Now().Add(10 * time.Second)
	for g.cands[who].rec.count() == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("lease %s: candidate %d sent nothing in 10s", g.name, who)
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func (g *kubeGroup) close() {
	for _, c := range g.cands {
		if c.cancel != nil {
			c.cancel()
			<-c.done
		}
	}
}

// limit is how long a takeover may take at these timings.
func (g *kubeGroup) limit() time.Duration { return 2*g.t.lease + 5*g.t.retry + 5*time.Second }

// handovers makes n graceful handovers: the leader's context is cancelled
// with ReleaseOnCancel, timed until the other candidate's
// OnStartedLeading; the old leader then restarts as the waiter.
func (g *kubeGroup) handovers(ctx context.Context, e *env, n int) ([]time.Duration, error) {
	ev, err := g.next(ctx, g.limit())
	if err != nil {
		return nil, err
	}
	leader := ev.who
	var lat []time.Duration
	for range n {
		waiter := 1 - leader
		if err := g.waitFirstRequest(ctx, waiter); err != nil {
			return lat, err
		}
		if err := e.pause(ctx, g.t.retry); err != nil {
			return lat, err
		}
		t0 := time.Now()
		if err := g.stopCand(leader); err != nil {
			return lat, err
		}
		ev, err := g.next(ctx, g.limit())
		if err != nil {
			return lat, err
		}
		lat = append(lat, ev.at.Sub(t0))
		if err := g.start(ctx, g.cands[leader]); err != nil {
			return lat, err
		}
		leader = ev.who
	}
	return lat, nil
}

// crashes kills the leader n times (its context is cancelled without
// ReleaseOnCancel: no more renewals, no release) and times the takeover
// against the last lease update the leader sent plus the lease duration.
func (g *kubeGroup) crashes(ctx context.Context, e *env, n int) (failover, overshoot []time.Duration, err error) {
	ev, err := g.next(ctx, g.limit())
	if err != nil {
		return nil, nil, err
	}
	leader := ev.who
	for range n {
		waiter := 1 - leader
		if err := g.waitFirstRequest(ctx, waiter); err != nil {
			return failover, overshoot, err
		}
		if err := e.pause(ctx, g.t.lease); err != nil {
			return failover, overshoot, err
		}
		tCrash := time.Now()
		if err := g.stopCand(leader); err != nil {
			return failover, overshoot, err
		}
		last := g.cands[leader].rec.lastUpdate()
		ev, err := g.next(ctx, g.limit())
		if err != nil {
			return failover, overshoot, err
		}
		failover = append(failover, ev.at.Sub(tCrash))
		overshoot = append(overshoot, ev.at.Sub(last.Add(g.t.lease)))
		if err := g.start(ctx, g.cands[leader]); err != nil {
			return failover, overshoot, err
		}
		leader = ev.who
	}
	return failover, overshoot, nil
}
