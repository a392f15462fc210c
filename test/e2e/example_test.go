//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// exampleChart is scenario 7: charts/examples/nightly-report, a user's
// chart that injects baton with the baton chart's named templates, on the
// baton chart's own bundled Redis (redis.enabled) from a local image.
//
// The cluster has no DNS, so baton cannot resolve the bundled Redis's
// Service name: the release is installed with no replicas, and upgraded
// with redis.addr set to the Service's ClusterIP.
func (s *suite) exampleChart(t *testing.T) {
	ns, release := "report", "report"
	s.createNamespace(t, ns)
	// A copy of both charts, so that helm dependency build writes nothing
	// into the repository.
	tmp := filepath.Join(s.c.Dir, "charts")
	if out, err := exec.Command("mkdir", "-p", filepath.Join(tmp, "examples")).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, c := range [][2]string{{"charts/baton", "baton"}, {"charts/examples/nightly-report", "examples/nightly-report"}} {
		if out, err := exec.Command("cp", "-r", filepath.Join(s.root, c[0]), filepath.Join(tmp, c[1])).CombinedOutput(); err != nil {
			t.Fatalf("copy chart: %v: %s", err, out)
		}
	}
	chart := filepath.Join(tmp, "examples", "nightly-report")
	if _, err := s.helm(t, "dependency", "build", chart); err != nil {
		s.report(t, 7, "example chart", false, "%v", err)
		return
	}
	values := s.writeValues(t, "report", `replicaCount: 0
image: localhost/busybox:e2e
baton:
  image: {repository: localhost/baton, tag: e2e, pullPolicy: Never}
  timings: {leaseTTL: 3s}
  redis:
    enabled: true
    password: {existingSecret: ""}
    server:
      image: {repository: localhost/redis, tag: e2e, pullPolicy: Never}
`)
	start := time.Now()
	if _, err := s.helm(t, "install", release, chart, "-n", ns, "-f", values, "--wait", "--timeout", "90s"); err != nil {
		s.report(t, 7, "example chart", false, "install with the bundled Redis: %v\n%s", err, s.describe(ns))
		return
	}
	svcs, err := s.c.Client.CoreV1().Services(ns).List(s.ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=redis"})
	if err != nil || len(svcs.Items) != 1 {
		s.report(t, 7, "example chart", false, "bundled Redis Service: %v %v", err, svcs)
		return
	}
	addr := svcs.Items[0].Spec.ClusterIP + ":6379"
	pw, err := watchPods(s.ctx, s.c.Client, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Stop()
	if _, err := s.helm(t, "upgrade", release, chart, "-n", ns, "-f", values, "--set", "replicaCount=2",
		"--set", "baton.redis.addr="+addr, "--wait", "--timeout", "120s"); err != nil {
		s.report(t, 7, "example chart", false, "upgrade to 2 replicas on %s: %v\n%s", addr, err, s.describe(ns))
		return
	}
	up := time.Since(start)
	// One report pod leads, and its unmodified busybox loop got baton's
	// answer through BATON_URL.
	var leader string
	ok := poll(s.ctx, 60*time.Second, func() bool {
		leaders, n := 0, 0
		for _, p := range s.pods(t, ns, "app.kubernetes.io/name=nightly-report") {
			if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
				continue
			}
			n++
			if p.Labels[leaderLabel] == "true" {
				leaders++
				leader = p.Name
			}
		}
		if leaders != 1 || n != 2 {
			return false
		}
		s.logs.Poll()
		for _, l := range s.logs.Lines(ns, leader, "report") {
			if strings.Contains(l.Text, `"leader":true`) {
				return true
			}
		}
		return false
	}) == nil
	// Nothing leaves the machine: from a pod, an address outside it (the
	// host's own default gateway) is unreachable. (busybox's nc: its
	// static wget crashes on a failed connect.)
	out, err := s.kubectl(t, "-n", ns, "exec", leader, "-c", "report", "--", "nc", "-w", "2", outsideAddr(), "80")
	egressOK := err != nil && strings.Contains(strings.ToLower(out), "unreachable")
	ok = ok && egressOK
	s.report(t, 7, "example chart with the bundled Redis", ok,
		"nightly-report (baton injected by the named templates) on the bundled Redis at %s: Ready in %v, one leader %s whose app read {\"leader\":true} from BATON_URL; pods labelled leader at once: %s; egress from the pod to %s: %s",
		addr, up.Round(100*time.Millisecond), leader, overlapsOrNone(pw.Overlaps(start)), outsideAddr(), lineWith(out, "nreachable"))
	if !ok {
		t.Log(s.describe(ns))
	}
}

// outsideAddr is an address off the machine: the host's default gateway,
// or a documentation address when there is none.
func outsideAddr() string {
	b, err := os.ReadFile("/proc/net/route")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(l)
			if len(f) > 2 && f[1] == "00000000" {
				var gw uint32
				fmt.Sscanf(f[2], "%X", &gw)
				if gw != 0 {
					return fmt.Sprintf("%d.%d.%d.%d", gw&0xff, gw>>8&0xff, gw>>16&0xff, gw>>24)
				}
			}
		}
	}
	return "192.0.2.1"
}

// lineWith is the first line of s containing word, or all of s.
func lineWith(s, word string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(s)
}
