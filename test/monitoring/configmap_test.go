package monitoring

import (
	"encoding/json"
	"os"
	"testing"
)

// TestDashboardConfigMap: the chart ships dashboards/baton.json verbatim,
// opt-in, in a ConfigMap with the label that Grafana's sidecar discovers.
func TestDashboardConfigMap(t *testing.T) {
	want, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(want) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	for _, c := range []struct {
		name           string
		set            []string
		ns, key, value string
	}{
		{"defaults", nil, "default", "grafana_dashboard", "1"},
		{"own label and namespace", []string{
			"--set", "monitoring.dashboard.labelKey=example.com/dashboard",
			"--set-string", "monitoring.dashboard.labelValue=baton",
			"--set", "monitoring.dashboard.namespace=grafana",
		}, "grafana", "example.com/dashboard", "baton"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cms := renderKind(t, "ConfigMap", append([]string{"--set", "monitoring.dashboard.enabled=true"}, c.set...)...)
			if len(cms) != 1 {
				t.Fatalf("want one ConfigMap, got %d", len(cms))
			}
			cm := cms[0]
			if got := field(t, cm, "metadata", "labels", c.key); got != c.value {
				t.Errorf("label %s: want %q, got %v", c.key, c.value, got)
			}
			if got := field(t, cm, "metadata", "namespace"); got != c.ns {
				t.Errorf("namespace: want %s, got %v", c.ns, got)
			}
			data, _ := field(t, cm, "data", "baton.json").(string)
			if data != string(want) && data+"\n" != string(want) {
				t.Errorf("data baton.json is not %s as it is", dashboardFile)
			}
		})
	}
	t.Run("opt-in", func(t *testing.T) {
		if n := len(renderKind(t, "ConfigMap")); n != 0 {
			t.Errorf("the dashboard is opt-in, got %d ConfigMaps", n)
		}
		if n := len(renderKind(t, "PrometheusRule")); n != 0 {
			t.Errorf("the rules are opt-in, got %d PrometheusRules", n)
		}
	})
}
