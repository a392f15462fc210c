//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readinessModes are the values of readyWhen that the chart's schema still
// offers; connected when it names none.
func readinessModes(root string) []string {
	b, err := os.ReadFile(filepath.Join(root, "charts", "baton", "values.schema.json"))
	if err != nil {
		return []string{"connected"}
	}
	var schema struct {
		Properties map[string]struct {
			Enum []string `json:"enum"`
		} `json:"properties"`
	}
	if json.Unmarshal(b, &schema) != nil || len(schema.Properties["readyWhen"].Enum) == 0 {
		return []string{"connected"}
	}
	return schema.Properties["readyWhen"].Enum
}

// rollouts is scenario 4: kubectl rollout restart and helm upgrade, with
// every readiness mode the chart offers, while the pods' watch stream, the
// /leader samples and the apps' fences are checked for two leaders.
func (b *batch) rollouts(t *testing.T) {
	b.need(t)
	s := b.s
	since := time.Now()
	dep := "deployment/" + b.fullname()
	var figures []string
	pass := true
	for _, mode := range readinessModes(s.root) {
		// helm upgrade: a changed pod template (an annotation) rolls the
		// pods. The kubeLease release does the rollout restart alone, to
		// keep the run short.
		start := time.Now()
		var err error
		if !b.kubeLease {
			_, err = s.helm(t, "upgrade", b.release, s.root+"/charts/baton", "-n", b.ns, "-f", b.values,
				"--set", "readyWhen="+mode, "--set-string", "podAnnotations.e2e/rev="+mode+"-upgrade", "--wait", "--timeout", "120s")
		}
		upD := time.Since(start)
		if err != nil {
			pass = false
			figures = append(figures, mode+": helm upgrade FAILED: "+firstLine(err.Error()))
			continue
		}
		if _, ok := b.waitOneLeader(t, 30*time.Second); !ok {
			pass = false
		}
		start = time.Now()
		_, err = s.kubectl(t, "-n", b.ns, "rollout", "restart", dep)
		if err == nil {
			_, err = s.kubectl(t, "-n", b.ns, "rollout", "status", dep, "--timeout", "120s")
		}
		rrD := time.Since(start)
		if err != nil {
			pass = false
			figures = append(figures, mode+": rollout restart FAILED: "+firstLine(err.Error()))
			continue
		}
		if _, ok := b.waitOneLeader(t, 30*time.Second); !ok {
			pass = false
			figures = append(figures, mode+": no single leader after the rollout")
		}
		figures = append(figures, mode+": rollout restart to complete "+rrD.Round(10*time.Millisecond).String())
		b.figure("rollout restart of 3 replicas, readyWhen="+mode, "%v", rrD.Round(10*time.Millisecond))
		if !b.kubeLease {
			figures = append(figures, mode+": helm upgrade --wait "+upD.Round(10*time.Millisecond).String())
			b.figure("helm upgrade --wait of 3 replicas, readyWhen="+mode, "%v", upD.Round(10*time.Millisecond))
		}
	}
	time.Sleep(500 * time.Millisecond)
	s.logs.Poll()
	labelled := b.pw.Overlaps(since)
	sampled := b.ls.Overlaps()
	apps := overlappingTerms(appTerms(s.logs.Lines(b.ns, b.fullname(), "app")))
	fences := fencesIncrease(s.logs.Lines(b.ns, b.fullname(), "app"))
	pass = pass && len(labelled) == 0 && len(sampled) == 0 && len(apps) == 0 && fences
	name := "rollout restart and helm upgrade"
	if b.kubeLease {
		name = "rollout restart"
	}
	b.report(t, 4, name, pass,
		"%s; by the watch: %s; by /leader (%d samples): %s; by the apps' fences: %s; fences never decrease: %v",
		strings.Join(figures, "; "), overlapsOrNone(labelled), b.ls.Samples(), noneOr(sampled), noneOr(apps), fences)
}

func noneOr(pairs []string) string {
	if len(pairs) == 0 {
		return "never two"
	}
	return "TWO: " + strings.Join(pairs, "; ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
