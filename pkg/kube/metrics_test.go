package kube_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/baton-dev/baton/pkg/kube"
)

func TestMetricsRegisterAndLint(t *testing.T) {
	_, reg := newMetrics(t)
	for name, want := range map[string]int{
		"baton_kube_api_errors_total":            6,
		"baton_kube_syncs_total":                 2,
		"baton_kube_last_sync_timestamp_seconds": 1,
		"baton_kube_stale_corrections_total":     1,
		"baton_kube_events_dropped_total":        1,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("%s: %d series (err %v), want %d", name, n, err, want)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// A second registration fails and leaves the registry as it was.
	if _, err := kube.NewMetrics(reg); !errors.As(err, new(prometheus.AlreadyRegisteredError)) || !strings.HasPrefix(err.Error(), "kube: ") {
		t.Errorf("second NewMetrics: %v", err)
	}
	if _, err := kube.NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}
}

// TestLockPackagesDoNotImportKube: the publisher observes the elector; the
// election and the lock never depend on Kubernetes.
func TestLockPackagesDoNotImportKube(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/baton-dev/baton/pkg/election", "github.com/baton-dev/baton/pkg/redislock").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/baton-dev/baton/pkg/kube" || strings.HasPrefix(dep, "k8s.io/client-go") || strings.HasPrefix(dep, "k8s.io/api/") {
			t.Errorf("pkg/election or pkg/redislock depends on %s", dep)
		}
	}
}
