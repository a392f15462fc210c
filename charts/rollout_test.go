package charts_test

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The rollout arithmetic of leader-gated readiness.
//
// With readyWhen=leader (or the readiness gate) at most one pod is Ready:
// the leader. A new pod cannot become Ready while the old leader holds the
// lock, and the Deployment controller deletes old pods only while
//
//	available >= replicas - maxUnavailable            (minAvailable)
//
// holds afterwards. The old leader is the only available pod, so it can go
// only if minAvailable is 0: maxUnavailable must be replicas (the chart uses
// 100%). helm --wait returns once the new ReplicaSet has
// readyReplicas >= replicas - maxUnavailable, which is then 0.
//
// TestLeaderGatedRollout renders the chart for replicas 1 to 5, resolves its
// strategy as the Deployment controller does, and plays a rolling update
// with the controller's own arithmetic (simulateRollout). The control cases
// show that the simulation does catch the stall of the tempting
// maxUnavailable = replicas-1.

// strategyOf resolves a Deployment's maxSurge and maxUnavailable to pod
// counts as the Deployment controller does (ResolveFenceposts): surge
// rounds up, unavailable down, and both zero means unavailable 1.
func strategyOf(t *testing.T, d *appsv1.Deployment) (surge, unavailable int) {
	t.Helper()
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil {
		t.Fatalf("want a RollingUpdate strategy, got %+v", d.Spec.Strategy)
	}
	return resolveFenceposts(t, d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, int(*d.Spec.Replicas))
}

func resolveFenceposts(t *testing.T, maxSurge, maxUnavailable *intstr.IntOrString, replicas int) (int, int) {
	t.Helper()
	surge, err := intstr.GetScaledValueFromIntOrPercent(maxSurge, replicas, true)
	if err != nil {
		t.Fatal(err)
	}
	unavailable, err := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, replicas, false)
	if err != nil {
		t.Fatal(err)
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

func TestLeaderGatedRollout(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"readyWhen=leader", []string{"--set", "readyWhen=leader"}},
		{"readinessGate", []string{"--set", "readinessGate.enabled=true"}},
		{"readyWhen=leader, maxSurge=0", []string{"--set", "readyWhen=leader", "--set", "leaderGatedStrategy.maxSurge=0"}},
		{"readyWhen=leader, maxSurge=100%", []string{"--set", "readyWhen=leader", "--set", "leaderGatedStrategy.maxSurge=100%"}},
	} {
		for replicas := 1; replicas <= 5; replicas++ {
			t.Run(fmt.Sprintf("%s/replicas=%d", mode.name, replicas), func(t *testing.T) {
				args := append([]string{"--set", fmt.Sprintf("replicaCount=%d", replicas)}, mode.args...)
				d := newRendered(t, "default", render(t, "default", args...)).deploy
				if d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds <= 0 {
					t.Error("want a progressDeadlineSeconds, so that a stalled rollout is reported")
				}
				surge, unavailable := strategyOf(t, d)
				if unavailable < 1 {
					t.Errorf("maxUnavailable %d: want at least 1", unavailable)
				}
				// helm --wait: readyReplicas >= replicas - maxUnavailable
				// must be met by the single Ready pod (at most 1), and
				// the Deployment controller may delete the last Ready
				// pod (0).
				if min := replicas - min(unavailable, replicas); min > 0 {
					t.Errorf("replicas %d - maxUnavailable %d = %d must stay available: the old leader could never be deleted", replicas, unavailable, min)
				}
				res := simulateRollout(replicas, surge, unavailable, true)
				if !res.completed {
					t.Fatalf("the rollout stalls: %s", res.trace)
				}
				if !res.helmWaitReturns {
					t.Errorf("helm --wait would not return: %s", res.trace)
				}
				if res.maxPods > replicas+surge {
					t.Errorf("%d pods at once, more than replicas+maxSurge = %d", res.maxPods, replicas+surge)
				}
			})
		}
	}
}

// TestConnectedRollout: with readiness meaning "participating", the
// default strategy rolls every replica count through, keeping all replicas
// available.
func TestConnectedRollout(t *testing.T) {
	for replicas := 1; replicas <= 5; replicas++ {
		d := newRendered(t, "default", render(t, "default", "--set", fmt.Sprintf("replicaCount=%d", replicas))).deploy
		surge, unavailable := strategyOf(t, d)
		res := simulateRollout(replicas, surge, unavailable, false)
		if !res.completed || !res.helmWaitReturns {
			t.Errorf("replicas %d: %s", replicas, res.trace)
		}
		if res.minAvailable < replicas-unavailable {
			t.Errorf("replicas %d: only %d available during the rollout", replicas, res.minAvailable)
		}
	}
}

// TestSimulationCatchesStall is the control: the strategy that looks right,
// maxUnavailable = replicas-1 (one Ready pod suffices), stalls for ever as
// soon as there are two replicas.
func TestSimulationCatchesStall(t *testing.T) {
	for replicas := 1; replicas <= 5; replicas++ {
		for _, surge := range []int{0, 1} {
			unavailable := max(replicas-1, 1)
			res := simulateRollout(replicas, surge, unavailable, true)
			if want := replicas == 1; res.completed != want {
				t.Errorf("replicas %d, maxSurge %d, maxUnavailable %d: completed=%v, want %v: %s", replicas, surge, unavailable, res.completed, want, res.trace)
			}
		}
	}
}

// rolloutResult is the outcome of simulateRollout.
type rolloutResult struct {
	completed       bool // the old ReplicaSet is gone and the new one is full
	helmWaitReturns bool // new RS readyReplicas >= replicas - maxUnavailable at the end
	maxPods         int  // most pods at once
	minAvailable    int  // fewest available pods at any step
	trace           string
}

// simPod is a pod of the simulation: it runs as soon as it is created.
type simPod struct {
	id     int
	newRS  bool
	leader bool
}

// simulateRollout plays a rolling update from a full old ReplicaSet to a
// new one, with the arithmetic of the Deployment controller
// (pkg/controller/deployment/rolling.go: NewRSNewReplicas,
// reconcileOldReplicaSets, cleanupUnhealthyReplicas,
// scaleDownOldReplicaSetsForRollingUpdate) and the ReplicaSet
// controller's preference for deleting unready pods first. With
// leaderGated, a pod is Ready only while it leads; otherwise every running
// pod is Ready. When the leader is deleted it releases the lock, and the
// next leader is, adversarially, an old pod if any is left.
func simulateRollout(replicas, maxSurge, maxUnavailable int, leaderGated bool) rolloutResult {
	maxUnavailable = min(maxUnavailable, replicas) // deploymentutil.MaxUnavailable
	var pods []simPod
	nextID := 0
	for range replicas {
		pods = append(pods, simPod{id: nextID})
		nextID++
	}
	pods[0].leader = true
	newSpec, oldSpec := 0, replicas
	ready := func(p simPod) bool { return !leaderGated || p.leader }
	count := func(newRS bool, onlyReady bool) int {
		n := 0
		for _, p := range pods {
			if p.newRS == newRS && (!onlyReady || ready(p)) {
				n++
			}
		}
		return n
	}
	res := rolloutResult{minAvailable: replicas}
	trace := ""
	for step := range 50 {
		// The ReplicaSet controller: create or delete pods to match.
		for count(true, false) < newSpec {
			pods = append(pods, simPod{id: nextID, newRS: true})
			nextID++
		}
		for count(false, false) > oldSpec {
			pods = deleteOne(pods, ready)
		}
		// Elections: a lock left free is taken, by an old pod if any.
		if !hasLeader(pods) && len(pods) > 0 {
			i := 0
			for j, p := range pods {
				if !p.newRS {
					i = j
					break
				}
				i = j
			}
			pods[i].leader = true
		}
		available := count(true, true) + count(false, true)
		res.maxPods = max(res.maxPods, len(pods))
		res.minAvailable = min(res.minAvailable, available)
		trace += fmt.Sprintf("\n  step %d: old %d (%d ready), new %d (%d ready)", step, count(false, false), count(false, true), count(true, false), count(true, true))

		if oldSpec == 0 && newSpec == replicas && count(true, false) == replicas {
			res.completed = true
			res.helmWaitReturns = count(true, true) >= replicas-maxUnavailable
			res.trace = trace
			return res
		}

		// The Deployment controller's sync: scale the new ReplicaSet up,
		// and if it did not, the old ones down.
		currentPods := newSpec + oldSpec
		if maxTotal := replicas + maxSurge; currentPods < maxTotal && newSpec < replicas {
			newSpec += min(maxTotal-currentPods, replicas-newSpec)
			continue
		}
		if oldSpec == 0 {
			continue
		}
		minAvailable := replicas - maxUnavailable
		newUnavailable := newSpec - count(true, true)
		maxScaledDown := newSpec + oldSpec - minAvailable - newUnavailable
		if maxScaledDown <= 0 {
			continue
		}
		// cleanupUnhealthyReplicas: unready old pods first.
		oldUnready := count(false, false) - count(false, true)
		cleaned := min(maxScaledDown, oldUnready)
		oldSpec -= cleaned
		// scaleDownOldReplicaSetsForRollingUpdate: then as many as
		// availability allows.
		if avail := count(true, true) + count(false, true); avail > minAvailable {
			oldSpec -= min(oldSpec, avail-minAvailable)
		}
	}
	res.trace = trace
	return res
}

// deleteOne deletes an old pod, unready ones first (the ReplicaSet
// controller's ranking), and releases the lock if it led.
func deleteOne(pods []simPod, ready func(simPod) bool) []simPod {
	victim := -1
	for i, p := range pods {
		if p.newRS {
			continue
		}
		if victim < 0 || (ready(pods[victim]) && !ready(p)) {
			victim = i
		}
	}
	return append(pods[:victim:victim], pods[victim+1:]...)
}

func hasLeader(pods []simPod) bool {
	for _, p := range pods {
		if p.leader {
			return true
		}
	}
	return false
}
