package monitoring

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runContract is schedule mode's metrics as issue 19's metric contract
// names them, with their labels: the series that the dashboard's
// "Scheduled runs" row and the Baton Run alerts query.
var runContract = exposed{
	"baton_run_last_success_timestamp_seconds":          {"job": true},
	"baton_run_window_seconds":                          {"job": true},
	"baton_run_next_window_timestamp_seconds":           {"job": true},
	"baton_run_previous_window_start_timestamp_seconds": {"job": true},
	"baton_runs_total":                                  {"job": true, "result": true},
	"baton_run_missed_windows_total":                    {"job": true},
}

// scheduledRan reports whether a scheduled job has run (it created the
// file ran) and its baton serves what the run recorded: every series of
// runContract once it serves any (the last success follows the job's
// exit), or none at all.
func scheduledRan(ran, metrics string) bool {
	if _, err := os.Stat(ran); err != nil {
		return false
	}
	n := 0
	for name := range runContract {
		if strings.Contains(metrics, "\n"+name+"{") {
			n++
		}
	}
	return n == 0 || n == len(runContract)
}

// addRunContract holds the scrape of schedule mode to runContract: the
// sidecar must serve every metric of it, with the contract's labels.
func addRunContract(t *testing.T, have exposed) {
	t.Helper()
	predates, problems := runContractProblems(have)
	for _, p := range problems {
		t.Error(p)
	}
	if predates {
		t.Errorf("schedule mode serves none of the contract's %d metrics: the dashboard's and the rules' queries of runs name metrics nobody serves", len(runContract))
	}
}

// runContractProblems says whether have holds no series of runContract,
// and else a problem for each series or label of the contract it lacks.
func runContractProblems(have exposed) (predates bool, problems []error) {
	var served []string
	for name := range runContract {
		if have[name] != nil {
			served = append(served, name)
		}
	}
	if len(served) == 0 {
		return true, nil
	}
	slices.Sort(served)
	for name, labels := range runContract {
		for l := range labels {
			if !have[name][l] {
				problems = append(problems, fmt.Errorf("schedule mode serves %v but not %s with label %q, which the contract names", served, name, l))
			}
		}
	}
	return false, problems
}

// TestRunContractCheck: the contract stands in only for a sidecar that
// serves none of its series; one that serves some must serve them all,
// with their labels.
func TestRunContractCheck(t *testing.T) {
	all := exposed{"go_goroutines": {}}
	for name, labels := range runContract {
		all[name] = labels
	}
	noResult := exposed{}
	for name, labels := range runContract {
		noResult[name] = labels
	}
	noResult["baton_runs_total"] = map[string]bool{"job": true}
	for _, c := range []struct {
		name     string
		have     exposed
		predates bool
		problems int
	}{
		{"none served", exposed{"go_goroutines": {}}, true, 0},
		{"all served", all, false, 0},
		{"one served", exposed{"baton_run_window_seconds": {"job": true}}, false, 6},
		{"a label missing", noResult, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			predates, problems := runContractProblems(c.have)
			if predates != c.predates || len(problems) != c.problems {
				t.Errorf("predates %v with %d problems, want %v with %d: %v", predates, len(problems), c.predates, c.problems, problems)
			}
		})
	}
	ran := filepath.Join(t.TempDir(), "ran")
	some := "\nbaton_run_window_seconds{job=\"x\"} 1\n"
	every := ""
	for name := range runContract {
		every += "\n" + name + "{job=\"x\"} 1\n"
	}
	if scheduledRan(ran, every) {
		t.Error("ready before the job ran")
	}
	if err := os.WriteFile(ran, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		metrics string
		want    bool
	}{{"\ngo_goroutines 7\n", true}, {some, false}, {every, true}} {
		if got := scheduledRan(ran, c.metrics); got != c.want {
			t.Errorf("ready %v, want %v, for %q", got, c.want, c.metrics)
		}
	}
}
