package charts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Leader-gated readiness (readyWhen: leader, readinessGate.enabled,
// leaderGatedStrategy) was removed from the chart: on real pods a rollout
// never completed, since only the leader is ever Ready. A user who still
// sets those values must learn why and what to use instead, by name,
// rather than get the schema's generic "additional property" error or, worse,
// a chart that ignores them. templates/removed-values.yaml does this; the
// schema admits the keys so that it is reached. helm lint reports a
// template's fail as information only, so helm template alone is asked.

// removedWants are in every refusal: the reason, and what to use instead.
var removedWants = []string{"only the leader is ever Ready", "ProgressDeadlineExceeded", "leaderService.enabled=true"}

func TestRemovedValues(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string // in the error, beside removedWants
	}{
		{"readyWhen leader", []string{"--set", "readyWhen=leader"}, `readyWhen (here "leader") was removed`},
		{"readyWhen leader with a PodDisruptionBudget", []string{"--set", "readyWhen=leader", "--set", "podDisruptionBudget.enabled=true"}, `readyWhen (here "leader") was removed`},
		{"readyWhen nonsense", []string{"--set", "readyWhen=always"}, `readyWhen (here "always") was removed`},
		{"readyWhen in exec mode", []string{"--set", "mode=exec", "--set", "readyWhen=leader"}, `readyWhen (here "leader") was removed`},
		{"readinessGate enabled", []string{"--set", "readinessGate.enabled=true"}, "readinessGate.enabled was removed"},
		{"readinessGate not a map", []string{"--set", "readinessGate=true"}, "readinessGate.enabled was removed"},
		{"leaderGatedStrategy", []string{"--set", "leaderGatedStrategy.maxSurge=1"}, "leaderGatedStrategy was removed"},
		{"BATON_READY_WHEN in sidecar.extraEnv", []string{
			"--set", "sidecar.extraEnv[0].name=BATON_READY_WHEN", "--set", "sidecar.extraEnv[0].value=leader",
		}, "BATON_READY_WHEN in sidecar.extraEnv"},
		{"BATON_READY_WHEN in app.env in exec mode", []string{
			"--set", "mode=exec", "--set", "app.env[0].name=BATON_READY_WHEN", "--set", "app.env[0].value=leader",
		}, "BATON_READY_WHEN in sidecar.extraEnv or app.env"},
		{"the message names the label key in use", []string{
			"--set", "kube.labelKey=example.com/leader", "--set", "readyWhen=leader",
		}, "selects example.com/leader=true"},
		{"the old ci file of leader readiness", []string{"-f", writeValues(t, `replicaCount: 3
readyWhen: leader
readinessGate:
  enabled: true
leaderGatedStrategy:
  maxSurge: 1
progressDeadlineSeconds: 300
`)}, "was removed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := helmTemplate(t, chartDir, "default", c.args...)
			if err == nil {
				t.Fatalf("helm template accepted %v", c.args)
			}
			for _, want := range append([]string{c.want}, removedWants...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error should say %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestRemovedInjection: a chart that injects baton (examples/nightly-report)
// gets the same refusal for baton's removed values, and one that still
// includes the removed baton.readinessGates is told what to delete.
func TestRemovedInjection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nightly-report")
	copyDir(t, filepath.Join("examples", "nightly-report"), dir)
	copyDir(t, chartDir, filepath.Join(dir, "charts", "baton"))

	_, err := helmTemplate(t, dir, "default", "--set", "baton.readinessGate.enabled=true")
	if err == nil || !strings.Contains(err.Error(), "readinessGate.enabled was removed") {
		t.Errorf("baton.readinessGate.enabled=true: want the removal named, got %v", err)
	}

	tmpl := filepath.Join(dir, "templates", "deployment.yaml")
	b, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "      initContainers:\n"
	if !strings.Contains(string(b), anchor) {
		t.Fatalf("%s has no %q to insert before", tmpl, anchor)
	}
	gates := "      {{- with include \"baton.readinessGates\" $baton }}\n      readinessGates:\n        {{- . | nindent 8 }}\n      {{- end }}\n"
	if err := os.WriteFile(tmpl, []byte(strings.Replace(string(b), anchor, gates+anchor, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = helmTemplate(t, dir, "default")
	for _, want := range []string{"baton.readinessGates was removed", "delete its include", "kube.labelKey=true"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("an include of baton.readinessGates: the error should say %q, got %v", want, err)
		}
	}
}

// writeValues writes a values file for -f and returns its path.
func writeValues(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
