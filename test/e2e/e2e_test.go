//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Timings of the releases: a short lease, so that failovers are quick.
const (
	leaseTTL = 3 * time.Second
	apiPort  = 4040
)

func TestE2E(t *testing.T) {
	reason, env := requirements()
	if env == nil {
		t.Skip("e2e: runs from make e2e (BATON_E2E=1), which provisions the cluster's binaries and images")
	}
	if reason != "" {
		skipOrFail(t, reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *budget)
	defer cancel()
	began := time.Now()
	c := startCluster(t, ctx, env)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	s := &suite{ctx: ctx, c: c, helmB: env["HELM"], kctl: filepath.Join(env["KUBE_NODE_ASSETS"], "kubectl"), root: root, figures: map[string]string{}}
	var err error
	if s.redis, err = c.StartRedis(ctx); err != nil {
		t.Fatalf("e2e: host redis: %v", err)
	}
	t.Logf("e2e: host redis on %s (the bridge address)", s.redis)
	s.logs = c.CollectLogs(50 * time.Millisecond)
	defer s.logs.Stop()

	b := &batch{s: s, ns: "batch", release: "batch"}
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"1 install", b.install},
		{"2+3 delete the leader pod", b.deleteLeader},
		{"4 rollouts", b.rollouts},
		{"5 kill and freeze baton", b.killAndFreeze},
		{"6 ServiceAccount token", b.rbac},
		{"7 example chart with bundled Redis", s.exampleChart},
		{"8 exec mode", s.execMode},
		{"9 schedule mode", s.scheduleMode},
	}
	for _, st := range steps {
		t.Run(st.name, st.run)
	}
	// The release's watch and sampler ran through scenarios 1 to 6.
	b.stop(t)

	// Scenarios 1 to 5 again on the Kubernetes Lease backend, no Redis,
	// with the Lease checked after each.
	l := &batch{s: s, ns: "lease", release: "lease", kubeLease: true}
	for _, st := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"10 install on kube-lease", l.install},
		{"10 the Lease after install", l.leaseStage("install")},
		{"11+12 delete the leader pod on kube-lease", l.deleteLeader},
		{"12 the Lease after the delete", l.leaseStage("delete")},
		{"13 rollout on kube-lease", l.rollouts},
		{"13 the Lease after the rollout", l.leaseStage("rollout")},
		{"14 kill baton on kube-lease", l.killAndFreeze},
		{"14 the Lease after the kill", l.leaseStage("kill -9")},
		{"15 the Lease and its Role", l.leaseReport},
	} {
		t.Run(st.name, st.run)
	}
	l.stop(t)
	s.summary(t, time.Since(began))
}

// stop ends the release's pod watch and /leader sampler, and uninstalls
// it, so that the next release runs on a quieter node.
func (b *batch) stop(t *testing.T) {
	if b.ls != nil {
		b.ls.Stop()
	}
	if b.pw != nil {
		b.pw.Stop()
	}
	if b.installed {
		if _, err := b.s.helm(t, "uninstall", b.release, "-n", b.ns); err != nil {
			t.Logf("e2e: %v", err)
		}
	}
}

// summary prints every scenario's line and the figures, sorted.
func (s *suite) summary(t *testing.T, total time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "e2e: summary (%v in all)\n", total.Round(time.Second))
	for _, r := range s.results {
		fmt.Fprintln(&b, "  "+r)
	}
	names := make([]string, 0, len(s.figures))
	for n := range s.figures {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  e2e: figure %s: %s\n", n, s.figures[n])
	}
	t.Log(b.String())
	if p := os.Getenv("BATON_E2E_SUMMARY"); p != "" {
		_ = os.WriteFile(p, []byte(b.String()), 0o644)
	}
}
