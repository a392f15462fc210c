package monitoring

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// dashboardFile is the dashboard the chart ships.
var dashboardFile = filepath.Join(chartDir, "dashboards", "baton.json")

// query is one PromQL expression of the dashboard, where it comes from.
type query struct {
	where string
	expr  string
}

// dashboardQueries returns every PromQL expression of the dashboard: each
// panel's targets, and the selectors of the label_values variables.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" {
		t.Error("the dashboard needs a fixed uid, so that links to it survive a reload")
	}
	var qs []query
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %s: want label_values(selector, label), got %q", v.Name, s)
			continue
		}
		qs = append(qs, query{"variable " + v.Name, m[1]})
	}
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d is used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			if p.Description == "" {
				t.Errorf("panel %q has no description", p.Title)
			}
			for _, tg := range p.Targets {
				qs = append(qs, query{fmt.Sprintf("panel %q %s", p.Title, tg.RefID), tg.Expr})
			}
		}
	}
	walk(d.Panels)
	return qs
}

type panel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Targets     []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// grafanaVars are the variables a query may use, with values that make a
// valid query: Grafana's own and the dashboard's.
var grafanaVars = map[string]string{
	"__rate_interval": "1m", "__interval": "30s", "__range": "6h", "__interval_ms": "30000",
	"namespace": ".*", "lock": ".*",
}

var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expand replaces Grafana's variables, failing on an unknown one.
func expand(t *testing.T, q query) string {
	t.Helper()
	return varRef.ReplaceAllStringFunc(q.expr, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		v, ok := grafanaVars[name]
		if !ok {
			t.Errorf("%s: unknown variable %s in %s", q.where, ref, q.expr)
		}
		return v
	})
}

// selectors parses expr and returns its vector selectors.
func selectors(expr string) ([]*parser.VectorSelector, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out, nil
}

// checkAgainst returns the metric names that expr selects, and a
// problem for each selector that names a metric baton does not expose or
// matches a label that metric lacks (other than those Prometheus adds),
// or for an expr that does not parse or selects nothing.
func checkAgainst(expr string, have exposed) (names []string, problems []error) {
	vss, err := selectors(expr)
	if err != nil {
		return nil, []error{fmt.Errorf("does not parse: %w", err)}
	}
	if len(vss) == 0 {
		problems = append(problems, errors.New("selects no metric"))
	}
	for _, vs := range vss {
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		got, ok := have[name]
		if !ok {
			problems = append(problems, fmt.Errorf("%q is not among the metrics a real baton exposes", name))
			continue
		}
		names = append(names, name)
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName && !targetLabels[m.Name] && !got[m.Name] {
				problems = append(problems, fmt.Errorf("%s has no label %q", name, m.Name))
			}
		}
	}
	return names, problems
}

// check reports checkAgainst's problems on t.
func check(t *testing.T, where, expr string, have exposed) []string {
	t.Helper()
	names, problems := checkAgainst(expr, have)
	for _, p := range problems {
		t.Errorf("%s: %v\n%s", where, p, expr)
	}
	return names
}

// notOnDashboard are the series of baton that the dashboard leaves out on
// purpose; any other baton_ or leader_election_ series must be on it.
var notOnDashboard = map[string]string{
	"baton_is_leader":                    "leader_election_master_status says the same, with the lock",
	"baton_acquire_wait_seconds_sum":     "the panels use the buckets",
	"baton_acquire_wait_seconds_count":   "the panels use the buckets",
	"baton_renew_duration_seconds_sum":   "the panels use the buckets",
	"baton_renew_duration_seconds_count": "the panels use the buckets",
	"baton_child_stop_seconds_sum":       "the panels use the buckets",
	"baton_child_stop_seconds_count":     "the panels use the buckets",
}

// TestQueriesUseExposedMetrics scrapes real baton processes, then checks
// that every query of the dashboard, and every alert of the chart, parses
// with the PromQL parser and selects only series that baton exposes.
func TestQueriesUseExposedMetrics(t *testing.T) {
	have := scrapeBaton(t)
	var exposedNames []string
	for n := range have {
		exposedNames = append(exposedNames, n)
	}
	slices.Sort(exposedNames)
	t.Logf("a real baton exposes %d series names", len(exposedNames))

	t.Run("dashboard", func(t *testing.T) {
		used := map[string]bool{}
		qs := dashboardQueries(t)
		for _, q := range qs {
			for _, n := range check(t, q.where, expand(t, q), have) {
				used[n] = true
			}
		}
		t.Logf("%d queries", len(qs))
		for _, n := range exposedNames {
			if (strings.HasPrefix(n, "baton_") || strings.HasPrefix(n, "leader_election_")) && !used[n] && notOnDashboard[n] == "" {
				t.Errorf("baton exposes %s, but the dashboard has no panel for it", n)
			}
		}
	})
	t.Run("alerts", func(t *testing.T) {
		for _, r := range rulesOf(t, ruleGroups(t)) {
			check(t, "alert "+r.Alert, r.Expr, have)
		}
	})
}

// TestCheckAgainstCatchesMistakes: the check finds a misspelt metric, a
// label the metric lacks, a query that does not parse and one that selects
// nothing, and passes a valid one.
func TestCheckAgainstCatchesMistakes(t *testing.T) {
	have := exposed{"baton_fence": {}, "leader_election_master_status": {"name": true}}
	for _, expr := range []string{
		`baton_fencee`,
		`leader_election_master_status{lock="x"}`,
		`sum by (name) (leader_election_master_status`,
		`vector(1)`,
	} {
		if _, problems := checkAgainst(expr, have); len(problems) == 0 {
			t.Errorf("%s passed", expr)
		}
	}
	valid := `max by (name) (baton_fence * on (job, instance) group_left (name) leader_election_master_status{name=~".*", namespace="x"})`
	if names, problems := checkAgainst(valid, have); len(problems) != 0 || len(names) != 2 {
		t.Errorf("a valid query: names %v, problems %v", names, problems)
	}
}
