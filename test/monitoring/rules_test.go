package monitoring

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// alertNames are the alerts that the chart must ship.
var alertNames = append([]string{"BatonNoLeader", "BatonMultipleLeaders", "BatonFlapping", "BatonRenewalsFailing", "BatonRedisUnreachable", "BatonLeaseUnreachable"}, runAlertNames...)

// runAlertNames are schedule mode's alerts, whose series carry the job's
// own label "job": renamed exported_job by a default scrape, kept under
// honor_labels.
var runAlertNames = []string{"BatonRunOverdue", "BatonRunsFailing", "BatonRunWindowsMissed"}

// unitTests are the promtool unit tests of testdata: each runs against
// the rules rendered with its values, and must cover its alerts.
var unitTests = []struct {
	file   string
	set    []string
	alerts []string
}{
	{"alerts.test.yaml", nil, alertNames},
	// Under honor_labels the default selector's job="<fullname>-metrics"
	// matches no series of schedule mode: select by namespace.
	{"alerts-honor-labels.test.yaml", []string{"--set-string", `monitoring.prometheusRule.selector=namespace="jobs"`}, runAlertNames},
}

// rule is one rendered rule of the group.
type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleGroups renders the PrometheusRule and returns its spec.groups, as a
// Prometheus rule file holds them.
func ruleGroups(t *testing.T, extra ...string) []any {
	t.Helper()
	pr := one(t, "PrometheusRule", append([]string{"--set", "monitoring.prometheusRule.enabled=true"}, extra...)...)
	if v := pr["apiVersion"]; v != "monitoring.coreos.com/v1" {
		t.Fatalf("PrometheusRule apiVersion %v", v)
	}
	groups, ok := field(t, pr, "spec", "groups").([]any)
	if !ok || len(groups) != 1 {
		t.Fatalf("want one rule group, got %v", field(t, pr, "spec", "groups"))
	}
	return groups
}

// writeRules writes groups as dir/rules.yaml and checks it with promtool.
func writeRules(t *testing.T, dir string, groups []any) string {
	t.Helper()
	out, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, promtool(t), "check", "rules", path)
	return path
}

// rulesOf decodes the rules of the only group.
func rulesOf(t *testing.T, groups []any) map[string]rule {
	t.Helper()
	raw, err := yaml.Marshal(field(t, groups[0], "rules"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []rule
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	byName := map[string]rule{}
	for _, r := range rules {
		byName[r.Alert] = r
	}
	return byName
}

// TestAlertRules: the rendered group passes promtool check rules, and
// promtool test rules runs each of unitTests against it, which has for
// each of its alerts an evaluation where it fires and one where it must
// not.
func TestAlertRules(t *testing.T) {
	rules := rulesOf(t, ruleGroups(t))
	var names []string
	for n := range rules {
		names = append(names, n)
	}
	slices.Sort(names)
	want := slices.Clone(alertNames)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("alerts: want %v, got %v", want, names)
	}
	for _, r := range rules {
		if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: want a severity, a summary and a description, got %+v", r.Alert, r)
		}
	}

	for _, u := range unitTests {
		t.Run(u.file, func(t *testing.T) {
			dir := t.TempDir()
			writeRules(t, dir, ruleGroups(t, u.set...))
			tests, err := os.ReadFile(filepath.Join("testdata", u.file))
			if err != nil {
				t.Fatal(err)
			}
			checkCoverage(t, tests, u.alerts)
			testFile := filepath.Join(dir, u.file)
			if err := os.WriteFile(testFile, tests, 0o644); err != nil {
				t.Fatal(err)
			}
			out := run(t, promtool(t), "test", "rules", testFile)
			t.Logf("promtool test rules:\n%s", out)
		})
	}
}

// checkCoverage fails t unless the unit tests evaluate each of alerts
// once expecting it to fire and once expecting silence.
func checkCoverage(t *testing.T, tests []byte, alerts []string) {
	t.Helper()
	var file struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(tests, &file); err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range file.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for _, n := range alerts {
		if !fires[n] || !silent[n] {
			t.Errorf("%s: the unit tests must expect it to fire (%v) and to stay silent (%v)", n, fires[n], silent[n])
		}
	}
}

// TestAlertRulesFollowValues: the thresholds, the durations and the
// selector come from values.yaml, and the no-leader wait from the lease TTL.
func TestAlertRulesFollowValues(t *testing.T) {
	cases := []struct {
		name string
		// set are --set-string values, or --set ones with "int:".
		set   []string
		check func(t *testing.T, rules map[string]rule)
	}{
		{"defaults", nil, func(t *testing.T, rules map[string]rule) {
			wantFor(t, rules, "BatonNoLeader", "30s")
			wantFor(t, rules, "BatonMultipleLeaders", "1m")
			wantFor(t, rules, "BatonRedisUnreachable", "2m")
			wantFor(t, rules, "BatonLeaseUnreachable", "2m")
			wantFor(t, rules, "BatonRunOverdue", "5m")
			wantIn(t, rules, "BatonFlapping", `> 20`)
			wantIn(t, rules, "BatonRenewalsFailing", `> 0`)
			for _, r := range rules {
				wantIn(t, rules, r.Alert, `namespace="default", job="rel-baton-metrics"`)
			}
		}},
		{"lease TTL", []string{"timings.leaseTTL=1500ms"}, func(t *testing.T, rules map[string]rule) {
			wantFor(t, rules, "BatonNoLeader", "3s")
		}},
		{"baton's default TTL", []string{"timings.leaseTTL="}, func(t *testing.T, rules map[string]rule) {
			wantFor(t, rules, "BatonNoLeader", "30s")
		}},
		{"overrides", []string{
			"monitoring.prometheusRule.noLeaderFor=5m",
			"monitoring.prometheusRule.multipleLeadersFor=2m",
			"int:monitoring.prometheusRule.flappingTransitionsPerHour=7",
			"int:monitoring.prometheusRule.renewFailuresPer10m=3",
			"monitoring.prometheusRule.redisUnreachableFor=30s",
			"monitoring.prometheusRule.leaseUnreachableFor=45s",
			"monitoring.prometheusRule.runOverdueFor=1h",
			`monitoring.prometheusRule.selector=job=~"batch-.*"`,
		}, func(t *testing.T, rules map[string]rule) {
			wantFor(t, rules, "BatonRunOverdue", "1h")
			wantFor(t, rules, "BatonNoLeader", "5m")
			wantFor(t, rules, "BatonMultipleLeaders", "2m")
			wantFor(t, rules, "BatonRedisUnreachable", "30s")
			wantFor(t, rules, "BatonLeaseUnreachable", "45s")
			wantIn(t, rules, "BatonFlapping", `> 7`)
			wantIn(t, rules, "BatonRenewalsFailing", `> 3`)
			for _, r := range rules {
				wantIn(t, rules, r.Alert, `{job=~"batch-.*"}`)
				if strings.Contains(r.Expr, "namespace=") {
					t.Errorf("%s: the selector replaces the default one: %s", r.Alert, r.Expr)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			for _, s := range c.set {
				if v, ok := strings.CutPrefix(s, "int:"); ok {
					extra = append(extra, "--set", v)
				} else {
					extra = append(extra, "--set-string", s)
				}
			}
			groups := ruleGroups(t, extra...)
			writeRules(t, t.TempDir(), groups)
			c.check(t, rulesOf(t, groups))
		})
	}
}

// TestAlertRulesRefuseBadValues: the schema turns away what would break
// the rules.
func TestAlertRulesRefuseBadValues(t *testing.T) {
	for _, set := range []string{
		"monitoring.prometheusRule.noLeaderFor=30",
		"monitoring.prometheusRule.multipleLeadersFor=1.5m",
		"monitoring.prometheusRule.selector={job=\"x\"}",
		"monitoring.prometheusRule.redisUnreachableFor=",
		"monitoring.prometheusRule.runOverdueFor=2 windows",
	} {
		t.Run(set, func(t *testing.T) {
			args := []string{"template", "rel", chartDir, "--set", "monitoring.prometheusRule.enabled=true", "--set-string", set}
			if _, err := runErr(helm(t), args...); err == nil {
				t.Errorf("helm template accepted %s", set)
			}
		})
	}
	if _, err := runErr(helm(t), "template", "rel", chartDir, "--set", "monitoring.prometheusRule.enabled=true", "--set", "monitoring.prometheusRule.flappingTransitionsPerHour=0"); err == nil {
		t.Error("helm template accepted flappingTransitionsPerHour=0")
	}
}

func wantFor(t *testing.T, rules map[string]rule, alert, want string) {
	t.Helper()
	if got := rules[alert].For; got != want {
		t.Errorf("%s: want for %q, got %q", alert, want, got)
	}
}

func wantIn(t *testing.T, rules map[string]rule, alert, want string) {
	t.Helper()
	if !strings.Contains(rules[alert].Expr, want) {
		t.Errorf("%s: want %q in %s", alert, want, rules[alert].Expr)
	}
}
