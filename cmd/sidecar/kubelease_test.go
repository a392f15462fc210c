package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/baton-dev/baton/internal/kubetest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// Bad configurations of --backend kube-lease exit 2 naming the flag, before
// any network call (the kubeconfig points nowhere reachable).
func TestKubeLeaseFlagsRefused(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(unreachableKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--lock", "job", "--backend", "kube-lease", "--kubeconfig", kubeconfig, "--lease-namespace", "ns", "--lease-ttl", "4s"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown backend", []string{"--lock", "job", "--backend", "etcd"}, nil, `--backend must be redis or kube-lease (got "etcd")`},
		{"namespace with redis", []string{"--lock", "job", "--lease-namespace", "ns"}, nil, "--lease-namespace requires --backend kube-lease"},
		{"redis address", with("--redis-addr", "127.0.0.1:1"), nil, "--redis-addr does not apply with --backend kube-lease"},
		{"redis address from env", base, map[string]string{"BATON_REDIS_ADDR": "127.0.0.1:1"}, "--redis-addr does not apply"},
		{"key prefix", with("--key-prefix", "x"), nil, "--key-prefix does not apply"},
		{"locks", with("--locks-max-held", "3"), nil, "--locks-max-held does not apply with --backend kube-lease: the application locks need Redis"},
		{"fractional ttl", with("--lease-ttl", "2500ms"), nil, "--lease-ttl must be whole seconds"},
		{"short ttl", with("--lease-ttl", "1s", "--renew-deadline", "600ms"), nil, "--lease-ttl must be at least 2s"},
		{"lease name", append([]string{"--lock", "Nightly_Report"}, base[2:]...), nil, "--lock must be a Lease name"},
		{"no namespace", []string{"--lock", "job", "--backend", "kube-lease", "--kubeconfig", kubeconfig}, nil, "--lease-namespace is required"},
		{"bad namespace", with("--lease-namespace", "Not.A.Label"), nil, "--lease-namespace must be a namespace name"},
		{"no kubeconfig", []string{"--lock", "job", "--backend", "kube-lease", "--lease-namespace", "ns"}, nil, "--backend kube-lease needs --kubeconfig outside a pod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, env(tc.env), &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.want)
			}
		})
	}
	t.Run("schedule", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		args := append([]string{"run"}, with("--schedule", "@every 1m", "--", "true")...)
		if code := run(args, env(nil), &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--schedule does not apply with --backend kube-lease: schedule mode records its runs in Redis") {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	})
}

// unreachableKubeconfig names an API server on a port nothing listens on.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

// Three sidecars on one Lease of a real API server, no Redis: one leads,
// the others name it, a SIGTERM hands over at once (not at the lease's
// expiry), a kill -9 hands over at the expiry, and the fences grow.
func TestKubeLeaseSidecars(t *testing.T) {
	restCfg, kubeconfig := kubetest.Config(t), kubetest.Kubeconfig(t)
	cs := kubernetes.NewForConfigOrDie(restCfg)
	const ttl = 10 * time.Second
	flags := []string{"--backend", "kube-lease", "--kubeconfig", kubeconfig, "--lease-namespace", "default",
		"--lease-ttl", ttl.String(), "--kube", "false"}
	start := func(id string) *sidecartest.Sidecar {
		dir := t.TempDir()
		s, err := sidecartest.Launch(binary(t), dir, id, "", "job", flags...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s.Kill()
			if t.Failed() {
				b, _ := os.ReadFile(filepath.Join(dir, id+".log"))
				t.Logf("log of %s:\n%s", id, b)
			}
		})
		return s
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ss := []*sidecartest.Sidecar{start("a"), start("b"), start("c")}
	for _, s := range ss {
		if err := s.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The first Acquire of an absent Lease waits one TTL (it may have been
	// deleted under a holder): the first leader comes after it.
	leader, st, _, err := sidecartest.FirstLeader(ctx, ss)
	if err != nil {
		t.Fatal(err)
	}
	holder := func() string {
		l, err := cs.CoordinationV1().Leases("default").Get(ctx, "job", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *l.Spec.HolderIdentity
	}
	if h := holder(); h != leader.Identity {
		t.Fatalf("the Lease names %q, /leader %q", h, leader.Identity)
	}
	for _, s := range ss {
		if s == leader {
			continue
		}
		waitHolder(t, ctx, s, leader.Identity)
	}
	// The elector drop-in answers on this backend too, on every replica.
	for _, s := range ss {
		if r := call(t, "GET", s.APIURL+"/"); r.code != 200 || r.body["name"] != leader.Identity {
			t.Errorf("GET / on %s with kube-lease = %d %s; want 200 naming %s", s.Identity, r.code, r.raw, leader.Identity)
		}
	}
	if r := call(t, "GET", leader.APIURL+"/locks/x"); r.code != 404 {
		t.Errorf("GET /locks/x with kube-lease: %d, want 404 (the application locks need Redis)", r.code)
	}
	if r := call(t, "GET", leader.ProbeURL+"/metrics"); !strings.Contains(r.raw, `baton_kube_lease_errors_total{op="watch"} 0`) {
		t.Errorf("/metrics lacks baton_kube_lease_errors_total:\n%s", r.raw)
	}

	// SIGTERM: the release hands over well before the TTL.
	sent := time.Now()
	if err := leader.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest := without(ss, leader)
	next, st2, at, err := sidecartest.FirstLeader(ctx, rest)
	if err != nil {
		t.Fatal(err)
	}
	if d := at.Sub(sent); d >= ttl {
		t.Errorf("graceful handover took %v, not less than the TTL %v: the release was not seen", d, ttl)
	}
	if st2.Fence <= st.Fence {
		t.Errorf("fence %d after %d", st2.Fence, st.Fence)
	}
	<-leader.Exited()

	// kill -9: the last follower takes over once the record expires.
	next.Kill()
	last := without(rest, next)
	_, st3, _, err := sidecartest.FirstLeader(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	if st3.Fence <= st2.Fence || holder() != last[0].Identity {
		t.Errorf("after the kill: fence %d after %d, holder %q", st3.Fence, st2.Fence, holder())
	}
}

// waitHolder waits until s is a follower that names holder: a follower
// learns of a new holder through its watch, a moment after it took over.
func waitHolder(t *testing.T, ctx context.Context, s *sidecartest.Sidecar, holder string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := s.Leader(ctx, 0)
		if err == nil && !got.Leader && got.Holder == holder {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %+v, %v; want a follower naming %s", s.Identity, got, err, holder)
		case <-tick.C:
		}
	}
}

func without(ss []*sidecartest.Sidecar, x *sidecartest.Sidecar) []*sidecartest.Sidecar {
	var out []*sidecartest.Sidecar
	for _, s := range ss {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}
