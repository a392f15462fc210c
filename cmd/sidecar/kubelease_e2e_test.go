//go:build unix

package main

import (
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
