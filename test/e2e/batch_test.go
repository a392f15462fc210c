//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// batch is the release of examples/batchjob with 3 replicas that scenarios
// 1 to 6 share, on the host's Redis, and scenarios 10 to 15 on the
// Kubernetes Lease backend (kubeLease).
type batch struct {
	s           *suite
	ns, release string
	kubeLease   bool
	values      string
	installed   bool
	pw          *podWatch
	ls          *leaderSampler

	// The Lease's checks of a kubeLease release (lease_test.go).
	lastFence                  uint64
	leaseStages, leaseProblems []string
}

func (b *batch) fullname() string { return b.release + "-baton" }

func (b *batch) selector() string {
	return "app.kubernetes.io/instance=" + b.release + ",app.kubernetes.io/name=baton"
}

func (b *batch) valuesYAML() string {
	backend := fmt.Sprintf("redis:\n  addr: %q\n", b.s.redis)
	if b.kubeLease {
		backend = "backend: kubeLease\n"
	}
	return backend + fmt.Sprintf(`replicaCount: 3
image: {repository: localhost/baton, tag: e2e, pullPolicy: Never}
app:
  image: {repository: localhost/batchjob, tag: e2e, pullPolicy: Never}
  command: ["/batchjob", "-unit", "200ms"]
timings:
  leaseTTL: %s
terminationGracePeriodSeconds: 15
leaderService:
  enabled: true
  ports:
    - {name: probes, port: 80, targetPort: probes, protocol: TCP}
`, leaseTTL)
}

func (b *batch) need(t *testing.T) {
	t.Helper()
	if !b.installed {
		t.Skip("e2e: scenario 1 (install) did not succeed")
	}
}

// waitOneLeader waits until the release's running pods are exactly one
// labelled true and the others false, and returns the leader.
func (b *batch) waitOneLeader(t *testing.T, timeout time.Duration) (leader corev1.Pod, ok bool) {
	t.Helper()
	err := poll(b.s.ctx, timeout, func() bool {
		var leaders []corev1.Pod
		n := 0
		for _, p := range b.s.pods(t, b.ns, b.selector()) {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				continue
			}
			n++
			switch p.Labels[leaderLabel] {
			case "true":
				leaders = append(leaders, p)
			case "false":
			default:
				return false
			}
		}
		if len(leaders) == 1 && n == 3 {
			leader = leaders[0]
			return true
		}
		return false
	})
	return leader, err == nil
}

// install is scenario 1.
func (b *batch) install(t *testing.T) {
	s := b.s
	s.createNamespace(t, b.ns)
	b.values = s.writeValues(t, "batch", b.valuesYAML())
	var err error
	if b.pw, err = watchPods(s.ctx, s.c.Client, b.ns); err != nil {
		t.Fatalf("watch: %v", err)
	}
	b.ls = sampleLeaders(b.pw, apiPort, 50*time.Millisecond)
	start := time.Now()
	if _, err := s.helm(t, "install", b.release, s.root+"/charts/baton", "-n", b.ns, "-f", b.values, "--wait", "--timeout", "120s"); err != nil {
		b.report(t, 1, "helm install --wait", false, "%v\n%s", err, s.describe(b.ns))
		return
	}
	installD := time.Since(start)
	leader, ok := b.waitOneLeader(t, 30*time.Second)
	if !ok {
		b.report(t, 1, "helm install --wait", false, "no single leader label: %v\n%s", b.pw.Leaders(), s.describe(b.ns))
		return
	}
	b.installed = true
	// helm --wait may return before the first term (a new lock waits one
	// TTL): the label's watch event, and the condition, which baton sets
	// after the label, are waited for.
	var first time.Time
	okFirst := poll(s.ctx, 5*time.Second, func() bool {
		var ok bool
		first, _, ok = b.pw.FirstLeaderAfter(start, "")
		return ok
	}) == nil
	condOK := poll(s.ctx, 10*time.Second, func() bool {
		p, err := s.c.Client.CoreV1().Pods(b.ns).Get(s.ctx, leader.Name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range p.Status.Conditions {
			if string(c.Type) == "baton.dev/leader" && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}) == nil
	evOK := poll(s.ctx, 10*time.Second, func() bool {
		evs, err := s.c.Client.EventsV1().Events(b.ns).List(s.ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Reason == "LeaderElected" && e.Regarding.Name == leader.Name {
				return true
			}
		}
		return false
	}) == nil
	// The leader Service, through kube-proxy's rules, from the host.
	svc, err := s.c.Client.CoreV1().Services(b.ns).Get(s.ctx, b.fullname()+"-leader", metav1.GetOptions{})
	svcOK, svcMsg := false, ""
	if err != nil {
		svcMsg = err.Error()
	} else {
		svcOK, svcMsg = b.serviceReachesLeader(svc.Spec.ClusterIP)
	}
	netOK, netMsg := s.checkPodNetwork(t, &leader, "baton")
	pass := okFirst && condOK && evOK && svcOK && netOK
	b.report(t, 1, "helm install --wait, 3 replicas", pass,
		"install --wait %v; first leader label %v after install start; one leader %s; condition=%v LeaderElected event=%v; leader Service %s: %s; %s",
		installD.Round(10*time.Millisecond), first.Sub(start).Round(time.Millisecond), leader.Name, condOK, evOK, svc.Spec.ClusterIP, svcMsg, netMsg)
	b.figure("install --wait (3 replicas)", "%v", installD.Round(10*time.Millisecond))
	b.figure("first leader label after helm install", "%v", first.Sub(start).Round(time.Millisecond))
	b.rss(t, leader)
}

// serviceReachesLeader GETs /metrics through the leader Service's
// ClusterIP from the host, ten times: every answer must be a leader's.
func (b *batch) serviceReachesLeader(ip string) (bool, string) {
	// A new connection per request: a kept-alive one stays on the pod it
	// first reached, and one opened while the Service's endpoints still
	// named a pod that no longer leads would answer from it for the whole
	// poll (kube-proxy balances connections, not requests).
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var last string
	ok := poll(b.s.ctx, 20*time.Second, func() bool {
		for i := 0; i < 10; i++ {
			resp, err := client.Get("http://" + ip + "/metrics")
			if err != nil {
				last = err.Error()
				return false
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "\nbaton_is_leader 1") {
				last = "an answer from a non-leader"
				return false
			}
		}
		return true
	}) == nil
	if ok {
		return true, "10/10 answers from the leader (baton_is_leader 1)"
	}
	return false, last
}

// rss records baton's RSS in the leader pod and in a follower, from /proc
// of the container's process.
func (b *batch) rss(t *testing.T, leader corev1.Pod) {
	var parts []string
	for _, p := range b.s.pods(t, b.ns, b.selector()) {
		cid := runningContainerID(&p, "baton")
		if cid == "" {
			continue
		}
		pids, err := containerPIDs(&p, cid)
		if err != nil {
			continue
		}
		kib, err := rssKiB(pids[0])
		if err != nil {
			continue
		}
		role := "follower"
		if p.Name == leader.Name {
			role = "leader"
		}
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", role, float64(kib)/1024))
	}
	b.figure("baton sidecar RSS in a pod", "%s", strings.Join(parts, ", "))
}
