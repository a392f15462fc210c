package charts_test

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The rollout arithmetic of the chart's Deployment.
//
// Every replica that reaches Redis is Ready (baton --ready-when=connected),
// the leader and its followers alike, so the Deployment controller's
// availability arithmetic holds as for any workload: kubectl rollout status
// and helm --wait complete. TestConnectedRollout renders the chart for
// replicas 1 to 5, resolves its strategy as the Deployment controller does,
// and plays a rolling update with the controller's own arithmetic
// (simulateRollout).
//
// Readiness gated on leadership, which the chart had, is not replayed here:
// only one pod is ever Ready then, and on real pods a rollout stalled at
// "1 of 3 updated replicas are available" even with the strategy that this
// arithmetic passed, because kubectl rollout status waits for every updated
// replica to be available. removed_test.go checks that the chart refuses it.

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

// TestConnectedRollout: the default strategy rolls every replica count
// through with all replicas available throughout and one extra pod at most,
// and a custom strategy within its own bounds.
func TestConnectedRollout(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"maxSurge 25%, maxUnavailable 1", []string{"--set", "strategy.maxSurge=25%", "--set", "strategy.maxUnavailable=1"}},
		{"maxSurge 0, maxUnavailable 50%", []string{"--set", "strategy.maxSurge=0", "--set", "strategy.maxUnavailable=50%"}},
	} {
		for replicas := 1; replicas <= 5; replicas++ {
			t.Run(fmt.Sprintf("%s/replicas=%d", c.name, replicas), func(t *testing.T) {
				args := append([]string{"--set", fmt.Sprintf("replicaCount=%d", replicas)}, c.args...)
				d := newRendered(t, "default", render(t, "default", args...)).deploy
				if d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds <= 0 {
					t.Error("want a progressDeadlineSeconds, so that a stalled rollout is reported")
				}
				surge, unavailable := strategyOf(t, d)
				res := simulateRollout(replicas, surge, unavailable)
				if !res.completed || !res.allAvailable {
					t.Fatalf("the rollout does not complete: %s", res.trace)
				}
				if res.minAvailable < replicas-unavailable {
					t.Errorf("only %d available during the rollout, below replicas - maxUnavailable = %d: %s", res.minAvailable, replicas-unavailable, res.trace)
				}
				if res.maxPods > replicas+surge {
					t.Errorf("%d pods at once, more than replicas + maxSurge = %d: %s", res.maxPods, replicas+surge, res.trace)
				}
				if c.args == nil && (res.minAvailable != replicas || res.maxPods != replicas+1) {
					t.Errorf("defaults: want all %d replicas available throughout and one extra pod, got %d available at least and %d pods at most: %s",
						replicas, res.minAvailable, res.maxPods, res.trace)
				}
			})
		}
	}
}

// TestSimulationCounts is the control of TestConnectedRollout: the
// simulation does see availability drop, and surge, when the strategy
// allows them.
func TestSimulationCounts(t *testing.T) {
	for replicas := 2; replicas <= 5; replicas++ {
		if res := simulateRollout(replicas, 0, 1); !res.completed || res.minAvailable != replicas-1 || res.maxPods != replicas {
			t.Errorf("replicas %d, maxSurge 0, maxUnavailable 1: completed=%v, min available %d (want %d), max pods %d (want %d): %s",
				replicas, res.completed, res.minAvailable, replicas-1, res.maxPods, replicas, res.trace)
		}
		if res := simulateRollout(replicas, replicas, 0); !res.completed || res.maxPods != 2*replicas {
			t.Errorf("replicas %d, maxSurge 100%%: completed=%v, max pods %d (want %d): %s", replicas, res.completed, res.maxPods, 2*replicas, res.trace)
		}
	}
}

// rolloutResult is the outcome of simulateRollout.
type rolloutResult struct {
	completed    bool // the old ReplicaSet is gone and the new one is full
	allAvailable bool // every new pod available at the end (kubectl rollout status)
	maxPods      int  // most pods at once
	minAvailable int  // fewest available pods at any step
	trace        string
}

// simulateRollout plays a rolling update from a full old ReplicaSet to a
// new one, with the arithmetic of the Deployment controller
// (pkg/controller/deployment/rolling.go: NewRSNewReplicas,
// reconcileOldReplicaSets, scaleDownOldReplicaSetsForRollingUpdate). Every
// pod is available as soon as it is created: with readiness "connected" a
// replica is Ready once it reaches Redis, leader or not.
func simulateRollout(replicas, maxSurge, maxUnavailable int) rolloutResult {
	maxUnavailable = min(maxUnavailable, replicas) // deploymentutil.MaxUnavailable
	oldPods, newPods := replicas, 0
	newSpec, oldSpec := 0, replicas
	res := rolloutResult{minAvailable: replicas}
	trace := ""
	for step := range 50 {
		// The ReplicaSet controller: create or delete pods to match.
		newPods, oldPods = newSpec, oldSpec
		available := newPods + oldPods
		res.maxPods = max(res.maxPods, available)
		res.minAvailable = min(res.minAvailable, available)
		trace += fmt.Sprintf("\n  step %d: old %d, new %d", step, oldPods, newPods)

		if oldSpec == 0 && newSpec == replicas {
			res.completed = true
			res.allAvailable = newPods == replicas
			res.trace = trace
			return res
		}

		// The Deployment controller's sync: scale the new ReplicaSet up,
		// and if it did not, the old ones down as far as availability
		// allows.
		if maxTotal := replicas + maxSurge; newSpec+oldSpec < maxTotal && newSpec < replicas {
			newSpec += min(maxTotal-newSpec-oldSpec, replicas-newSpec)
			continue
		}
		minAvailable := replicas - maxUnavailable
		if available > minAvailable {
			oldSpec -= min(oldSpec, available-minAvailable)
		}
	}
	res.trace = trace
	return res
}
