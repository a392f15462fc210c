//go:build linux

package chaos

// TestChaosKubeLease is the fault suite's topology on the Lease backend:
// a real kube-apiserver (envtest) and three `baton run --backend
// kube-lease` replicas, each reaching the API server through its own
// fault proxy, whose job is this test binary stamping its start and stop
// (as in TestChaosExec). Under a seeded mix of the API server's faults and
// the processes' faults, two interval checks prove that no two leaders
// overlapped: the sidecars' own terms (their transition logs), and the
// jobs' stamps. Skipped without KUBEBUILDER_ASSETS, except under CI=true.

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

var kubeLeaseDuration = flag.Duration("chaos.kubelease-duration", 60*time.Second,
	"length of TestChaosKubeLease's randomized run on the Lease backend (make chaos: 5m); 0 skips it")

const (
	// kubeLeaseTTL is every replica's --lease-ttl: the shortest a Lease
	// carries (whole seconds, at least 2s).
	kubeLeaseTTL = 2 * time.Second
	// kubeLeaseNS is the Lease's namespace.
	kubeLeaseNS = "default"
)

// Kinds of the Lease topology's faults, as the report counts them.
const (
	kindAPIBlackhole = "api server blackholed (all proxies)"
	kindAPIRestart   = "api server stopped and restarted"
	kindKubeLatency  = "latency on a replica's proxy"
	kindWatchDrop    = "watches dropped (CloseAll, all proxies)"
	kindLeaseDelete  = "lease deleted by hand"
	kindDelAfterHand = "lease deleted by hand after a resign"
	kindKubeKill     = "kill -9 leader"
	kindKubeResign   = "resign via API"
)

// kubeAPI is the envtest API server of one test.
type kubeAPI struct {
	env  *envtest.Environment
	cs   kubernetes.Interface
	addr string // host:port of the secure port, what the proxies forward to
}

// startKubeAPI starts a kube-apiserver and its etcd. The API server gets a
// certificate directory of the test's own, which envtest keeps across a
// Stop and Start: its serving certificate, its client CA and its port stay,
// so the replicas' kubeconfigs work after a restart.
func startKubeAPI(t *testing.T) *kubeAPI {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KUBEBUILDER_ASSETS is not set under CI=true")
		}
		t.Skip("KUBEBUILDER_ASSETS is not set (run `make test`, or export KUBEBUILDER_ASSETS=$(hack/tools/kube-assets.sh))")
	}
	env := &envtest.Environment{ControlPlaneStartTimeout: time.Minute, ControlPlaneStopTimeout: time.Minute}
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: t.TempDir()}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("envtest stop: %v", err)
		}
	})
	host := strings.TrimPrefix(cfg.Host, "https://")
	return &kubeAPI{env: env, cs: kubernetes.NewForConfigOrDie(cfg), addr: strings.TrimSuffix(host, "/")}
}

// kubeconfigVia writes envtest's admin kubeconfig with its server replaced
// by proxy, the replica's own path to the API server, and returns its path.
func (k *kubeAPI) kubeconfigVia(t *testing.T, dir, name, proxy string) string {
	t.Helper()
	cfg, err := clientcmd.Load(k.env.KubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + proxy
	}
	path := filepath.Join(dir, name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// restart stops the kube-apiserver process (etcd keeps the data) for d,
// and starts it again on the same port; Start returns once it is healthy.
func (k *kubeAPI) restart(d time.Duration) error {
	api := k.env.ControlPlane.APIServer
	if err := api.Stop(); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	time.Sleep(d)
	if err := api.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver again: %w", err)
	}
	return nil
}

// deleteLease deletes the Lease by hand, as an operator's kubectl would,
// not through any proxy.
func (k *kubeAPI) deleteLease() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := k.cs.CoordinationV1().Leases(kubeLeaseNS).Delete(ctx, lockName, metav1.DeleteOptions{})
	if err != nil {
		return fmt.Errorf("delete Lease: %w", err)
	}
	return nil
}

// kubeLeaseFaults is the Lease topology's mix. Bounds: a leader within a
// TTL and slack after a fault heals; after a deleted Lease, the
// quarantine of an absent Lease adds a TTL; after the API server comes
// back, a replica's failed acquire backs off up to 1.2 TTLs (the elector's
// cap and jitter), and its next acquire counts the old record's TTL from
// its read.
func kubeLeaseFaults(k *kubeAPI, w *execWatch) []weightedFault {
	ttl := kubeLeaseTTL
	afterAPI := ttl*6/5 + ttl + slack
	between := func(rng *rand.Rand, lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	all := func(e *env, f func(*Proxy)) {
		for _, n := range e.live() {
			f(n.proxy)
		}
	}
	return []weightedFault{
		{kindKubeResign, 8, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return e.faultResignAs(kindKubeResign, between(rng, 0, ttl/4))
		}},
		{kindKubeKill, 4, func(e *env, _ *rand.Rand, _ redisDoer) error { return e.faultKill() }},
		{kindStopBaton, 4, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return e.faultStopBaton(w, between(rng, ttl+ttl/2, 2*ttl))
		}},
		{kindAPIBlackhole, 4, func(e *env, rng *rand.Rand, _ redisDoer) error {
			e.hist.Fault(kindAPIBlackhole)
			all(e, func(p *Proxy) { p.SetBlackhole(true) })
			time.Sleep(between(rng, ttl/4, 2*ttl))
			all(e, func(p *Proxy) { p.SetBlackhole(false) })
			e.hist.Healed(kindAPIBlackhole, afterAPI)
			return nil
		}},
		{kindAPIRestart, 2, func(e *env, rng *rand.Rand, _ redisDoer) error {
			e.hist.Fault(kindAPIRestart)
			if err := k.restart(between(rng, 0, ttl)); err != nil {
				return err
			}
			e.hist.Healed(kindAPIRestart, afterAPI)
			return nil
		}},
		{kindKubeLatency, 4, func(e *env, rng *rand.Rand, _ redisDoer) error {
			nodes := e.live()
			n := nodes[rng.IntN(len(nodes))]
			e.faultLatency(kindKubeLatency, n, between(rng, ttl/20, ttl/2), between(rng, ttl, 2*ttl))
			return nil
		}},
		{kindWatchDrop, 4, func(e *env, _ *rand.Rand, _ redisDoer) error {
			e.hist.Fault(kindWatchDrop)
			all(e, (*Proxy).CloseAll)
			e.hist.Healed(kindWatchDrop, ttl+slack)
			return nil
		}},
		{kindLeaseDelete, 4, func(e *env, _ *rand.Rand, _ redisDoer) error {
			if _, err := k.settled(e); err != nil {
				return err
			}
			e.hist.Fault(kindLeaseDelete)
			if err := k.deleteLease(); err != nil {
				return err
			}
			e.hist.Healed(kindLeaseDelete, 2*ttl+slack)
			return nil
		}},
		{kindDelAfterHand, 6, func(e *env, rng *rand.Rand, _ redisDoer) error {
			// A follower that lost the race for the released Lease, slowed
			// down by lat each way, reads it again: deleted meanwhile, the
			// Lease must not pass for released (the winner leads on until
			// its next renewal). The deletion falls before its write or
			// before its read after the write's conflict.
			l, err := k.settled(e)
			if err != nil {
				return err
			}
			slow := e.followerOf(l, rng.IntN)
			lat := between(rng, 10*time.Millisecond, 50*time.Millisecond)
			e.hist.Fault(kindDelAfterHand)
			if slow != nil {
				slow.proxy.SetLatency(lat)
			}
			if err := l.resign(ttl); err != nil {
				return err
			}
			time.Sleep(between(rng, 0, 4*lat))
			if err := k.deleteLease(); err != nil && !strings.Contains(err.Error(), "not found") {
				return err
			}
			if slow != nil {
				slow.proxy.SetLatency(0)
			}
			e.hist.Healed(kindDelAfterHand, 2*ttl+slack)
			return nil
		}},
	}
}

// settled waits until every running replica has seen the Lease of the
// current leader: the leader holds it, and every other replica names it.
// The deletions wait for it, so that each tests one deletion. A replica
// that found the Lease absent holds no watch, so it cannot see the Lease
// created and deleted again; its quarantine, counted from its own sight,
// can then end while the creator leads (see the package doc of
// pkg/kubelease). Two deletions within a lease of each other are that
// documented limit, not a fault of this mix.
func (k *kubeAPI) settled(e *env) (*node, error) {
	deadline := time.Now().Add(3*e.ttl + 2*slack)
	for {
		l, err := e.findLeader()
		if err != nil {
			return nil, err
		}
		if k.holder() == l.name && e.allName(l.name) {
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the replicas do not all see %s hold the Lease (it names %q)", l.name, k.holder())
		}
		time.Sleep(e.ttl / 20)
	}
}

// holder is the Lease's holderIdentity, "" when absent or free.
func (k *kubeAPI) holder() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := k.cs.CoordinationV1().Leases(kubeLeaseNS).Get(ctx, lockName, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// allName reports whether every running replica's /leader names holder.
func (e *env) allName(holder string) bool {
	for _, n := range e.live() {
		if _, lb, err := n.status(context.Background()); err != nil || lb.Holder != holder {
			return false
		}
	}
	return true
}

// faultResignAs is faultResign, counted as kind.
func (e *env) faultResignAs(kind string, holdOff time.Duration) error {
	l, err := e.findLeader()
	if err != nil {
		return err
	}
	e.hist.Fault(kind)
	if err := l.resign(holdOff); err != nil {
		return err
	}
	e.hist.Healed(kind, slack)
	return nil
}

// TestChaosKubeLease: see the comment at the top of this file.
func TestChaosKubeLease(t *testing.T) {
	if *kubeLeaseDuration <= 0 {
		t.Skip("kube-lease topology skipped: set -chaos.kubelease-duration (e.g. 5m) to run it")
	}
	if testing.Short() {
		t.Skip("kube-lease topology skipped with -short")
	}
	k := startKubeAPI(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ttl := kubeLeaseTTL
	e := &env{t: t, hist: NewHistory(), ttl: ttl, dir: logDir(t), addr: k.addr}
	t.Cleanup(e.teardown)
	stamps := filepath.Join(e.dir, "stamps.log")
	w := newExecWatch(stamps)
	t.Cleanup(w.close)
	e.backend = func(name string, p *Proxy) []string {
		return []string{"--backend", "kube-lease", "--kubeconfig", k.kubeconfigVia(t, e.dir, name, p.Addr()),
			"--lease-namespace", kubeLeaseNS, "--kube", "false"}
	}
	e.sub = []string{"run"}
	e.extra = []string{"--kill-grace", execKillGrace.String(), "--", self}
	e.envv = []string{childEnv + "=1", stampsEnv + "=" + stamps}
	for range 3 {
		e.start()
	}
	rng := rand.New(rand.NewPCG(*chaosSeed, *chaosSeed^0x9e3779b97f4a7c15))
	t.Logf("seed %d, duration %v, TTL %v, kill grace %v", *chaosSeed, *kubeLeaseDuration, ttl, execKillGrace)
	// The first Acquire of an absent Lease waits one TTL (it may have been
	// deleted under a holder).
	e.leader(2*ttl + 2*slack)

	runMix(t, e, nil, rng, kubeLeaseFaults(k, w), ttl, *kubeLeaseDuration)
	e.assertLive(5*ttl + slack)
	r := e.finish()
	w.close()
	checkJobs(t, e, w, r)
}
