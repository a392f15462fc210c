//go:build linux

package e2e

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// killAndFreeze is scenario 5: kill -9 of the leader's baton process on
// the node, then SIGSTOP of the next leader's baton past the TTL and a kill.
func (b *batch) killAndFreeze(t *testing.T) {
	b.need(t)
	s := b.s
	since := time.Now()
	var parts []string
	pass := true
	for _, freeze := range b.freezes() {
		leader, ok := b.waitOneLeader(t, 30*time.Second)
		if !ok {
			t.Fatalf("no single leader\n%s", s.describe(b.ns))
		}
		cid := runningContainerID(&leader, "baton")
		pids, err := containerPIDs(&leader, cid)
		if err != nil {
			t.Fatalf("baton's PID in %s: %v", leader.Name, err)
		}
		restarts := restartCount(&leader, "baton")
		// The sampler must have seen the leader's term, whose fence the
		// next term's is compared with.
		var oldFence uint64
		if poll(s.ctx, 10*time.Second, func() bool { oldFence = b.ls.MaxFence(leader.Name); return oldFence > 0 }) != nil {
			t.Fatalf("no /leader sample of %s's term", leader.Name)
		}
		pid := pids[0]
		at := time.Now()
		what := "kill -9"
		if freeze {
			what = "SIGSTOP past the TTL, then kill -9"
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatalf("SIGSTOP %d: %v", pid, err)
			}
		} else if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", pid, err)
		}
		// The next term, whichever pod wins it: the restarted baton of the
		// same pod may, once the lease has expired.
		var next termKey
		var nextAt time.Time
		okNext := poll(s.ctx, 30*time.Second, func() bool {
			var ok bool
			next, nextAt, ok = b.ls.FirstTermAbove(oldFence)
			return ok
		}) == nil
		if freeze {
			// Hold the freeze one more TTL past the new term, then kill.
			time.Sleep(leaseTTL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		restarted := poll(s.ctx, 60*time.Second, func() bool {
			p, err := s.c.Client.CoreV1().Pods(b.ns).Get(s.ctx, leader.Name, metav1.GetOptions{})
			return err == nil && restartCount(p, "baton") > restarts && runningContainerID(p, "baton") != ""
		}) == nil
		_, settled := b.waitOneLeader(t, 60*time.Second)
		failover := nextAt.Sub(at)
		byLabel := "the same pod, re-elected after its restart"
		if l, other, ok := b.pw.FirstLeaderAfter(at, leader.Name); ok {
			byLabel = fmt.Sprintf("%s labelled %v later", other, l.Sub(at).Round(time.Millisecond))
		}
		ok = okNext && restarted && settled && failover >= leaseTTL/3 && failover < 3*leaseTTL
		pass = pass && ok
		parts = append(parts, fmt.Sprintf("%s of %s's baton (pid %d, fence %d): next term (fence %d) on %s %v later by /leader (TTL %v), by label: %s; kubelet restarted the container=%v",
			what, leader.Name, pid, oldFence, next.Fence, next.Pod, failover.Round(time.Millisecond), leaseTTL, byLabel, restarted))
		name := "failover after kill -9 of the leader's baton (next term by /leader)"
		if freeze {
			name = "failover after SIGSTOP of the leader's baton (next term by /leader)"
		}
		b.figure(name, "%v at TTL %v", failover.Round(time.Millisecond), leaseTTL)
	}
	overlaps := b.pw.Overlaps(since)
	time.Sleep(300 * time.Millisecond)
	s.logs.Poll()
	// The frozen baton's app must have stopped working too: its /leader
	// calls hang, so no unit of the old term overlaps the new one.
	sampled := b.ls.Overlaps()
	apps := overlappingTerms(appTerms(s.logs.Lines(b.ns, b.fullname(), "app")))
	pass = pass && len(overlaps) == 0 && len(sampled) == 0 && len(apps) == 0
	name := "kill -9 and freeze of the leader's baton"
	if !slices.Contains(b.freezes(), true) {
		name = "kill -9 of the leader's baton"
	}
	b.report(t, 5, name, pass, "%s; pods labelled leader at once: %s; by /leader: %s; by the apps' fences: %s",
		joinSemi(parts), overlapsOrNone(overlaps), noneOr(sampled), noneOr(apps))
}

func restartCount(p *corev1.Pod, name string) int32 {
	for _, st := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if st.Name == name {
			return st.RestartCount
		}
	}
	return 0
}

func joinSemi(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "; "
		}
		out += p
	}
	return out
}
