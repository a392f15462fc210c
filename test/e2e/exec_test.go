//go:build linux

package e2e

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// jobScript is an unmodified shell-script job: it knows nothing of baton
// but its environment, and stops on SIGTERM.
const jobScript = `echo "job start $HOSTNAME fence=$BATON_FENCE"
trap 'echo "job stop $HOSTNAME fence=$BATON_FENCE"; exit 0' TERM
i=0
while true; do
  i=$((i+1))
  echo "job tick $i $HOSTNAME fence=$BATON_FENCE"
  sleep 0.2 & wait $!
done`

var jobRe = regexp.MustCompile(`^job (start|tick \d+|stop) \S+ fence=(\d*)$`)

// execMode is scenario 8: mode exec, baton run -- sh -c <script> in
// busybox, 3 replicas, through a rollout: one child at a time across the
// pods, from the children's own lines.
func (s *suite) execMode(t *testing.T) {
	ns, release := "exec", "exec"
	s.createNamespace(t, ns)
	values := s.writeValues(t, "exec", fmt.Sprintf(`mode: exec
replicaCount: 3
image: {repository: localhost/baton, tag: e2e, pullPolicy: Never}
app:
  image: {repository: localhost/busybox, tag: e2e, pullPolicy: Never}
  command: ["sh", "-c", %q]
redis:
  addr: %q
timings:
  leaseTTL: 3s
exec:
  killGrace: 500ms
terminationGracePeriodSeconds: 15
`, jobScript, s.redis))
	pw, err := watchPods(s.ctx, s.c.Client, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Stop()
	start := time.Now()
	if _, err := s.helm(t, "install", release, s.root+"/charts/baton", "-n", ns, "-f", values, "--wait", "--timeout", "120s"); err != nil {
		s.report(t, 8, "exec mode", false, "install: %v\n%s", err, s.describe(ns))
		return
	}
	installD := time.Since(start)
	dep := "deployment/" + release + "-baton"
	// A child runs before the rollout: the lock is new to Redis, so its
	// first term waits one lease TTL (an unknown store), then the leader's
	// child starts.
	var polled time.Time
	if err := poll(s.ctx, leaseTTL+30*time.Second, func() bool {
		if time.Since(polled) < 250*time.Millisecond {
			return false
		}
		polled = time.Now()
		s.logs.Poll()
		return len(jobIntervals(s.logs.Lines(ns, release+"-baton", "app"))) > 0
	}); err != nil {
		s.report(t, 8, "exec mode", false, "no child started within %v of the install: %v\n%s", leaseTTL+30*time.Second, err, s.describe(ns))
		return
	}
	rs := time.Now()
	_, err = s.kubectl(t, "-n", ns, "rollout", "restart", dep)
	if err == nil {
		_, err = s.kubectl(t, "-n", ns, "rollout", "status", dep, "--timeout", "120s")
	}
	rolloutD := time.Since(rs)
	if err != nil {
		s.report(t, 8, "exec mode", false, "rollout: %v\n%s", err, s.describe(ns))
		return
	}
	// Let the last hand-over of the rollout finish.
	time.Sleep(2 * leaseTTL)
	s.logs.Poll()
	children := jobIntervals(s.logs.Lines(ns, release+"-baton", "app"))
	overlaps := overlappingTerms(children)
	gaps := handoverGaps(children)
	pass := len(children) >= 2 && len(overlaps) == 0
	s.report(t, 8, "exec mode through a rollout", pass,
		"install --wait %v, rollout %v; %d children (terms) across the pods, one at a time: %s; gaps between one child's last line and the next's first: %s",
		installD.Round(100*time.Millisecond), rolloutD.Round(100*time.Millisecond), len(children), noneOr(overlaps), strings.Join(gaps, ", "))
	s.figure("exec mode rollout restart of 3 replicas", "%v", rolloutD.Round(10*time.Millisecond))
}

// jobIntervals are the intervals from each child's first to its last line,
// by pod and fence.
func jobIntervals(lines []harnessLogLine) map[termKey]*interval {
	out := map[termKey]*interval{}
	for _, l := range lines {
		m := jobRe.FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		var f uint64
		fmt.Sscan(m[2], &f)
		k := termKey{l.Pod, f}
		if iv := out[k]; iv != nil {
			iv.To = l.Time
		} else {
			out[k] = &interval{From: l.Time, To: l.Time}
		}
	}
	return out
}

func handoverGaps(children map[termKey]*interval) []string {
	ivs := make([]*interval, 0, len(children))
	for _, iv := range children {
		ivs = append(ivs, iv)
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].From.Before(ivs[j].From) })
	var out []string
	for i := 1; i < len(ivs); i++ {
		out = append(out, ivs[i].From.Sub(ivs[i-1].To).Round(time.Millisecond).String())
	}
	return out
}
