// Package kubetest starts the kube-apiserver (and etcd) of a test binary
// with envtest, once, for the packages whose tests need a real API server:
// Main in TestMain, then Config or Kubeconfig in each test. Without
// KUBEBUILDER_ASSETS (`make test` sets it from hack/tools/kube-assets.sh)
// those tests skip, except under CI=true, where they fail; a server that
// was asked for and did not start fails them too.
package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

var shared struct {
	env     *envtest.Environment
	cfg     *rest.Config
	why     string // why there is no server, when there is none
	failed  bool   // asked for, and did not start
	started bool   // Main ran
}

// Main starts the shared API server when KUBEBUILDER_ASSETS is set, runs
// the tests and stops the server; it returns m.Run's code.
func Main(m *testing.M) int {
	shared.started = true
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		shared.why = "KUBEBUILDER_ASSETS is not set (run `make test`, or export KUBEBUILDER_ASSETS=$(hack/tools/kube-assets.sh))"
		return m.Run()
	}
	env := &envtest.Environment{ControlPlaneStartTimeout: time.Minute, ControlPlaneStopTimeout: time.Minute}
	cfg, err := env.Start()
	if err != nil {
		shared.why, shared.failed = fmt.Sprintf("envtest did not start: %v", err), true
		return m.Run()
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest stop: %v\n", err)
		}
	}()
	shared.env, shared.cfg = env, cfg
	return m.Run()
}

// Config returns an admin configuration of the shared API server, a copy
// the test may change. It skips the test when there is none, and fails it
// under CI=true or when the server did not start.
func Config(t testing.TB) *rest.Config {
	t.Helper()
	if !shared.started {
		t.Fatal("kubetest: the package's TestMain does not call kubetest.Main")
	}
	if shared.cfg == nil {
		if shared.failed || os.Getenv("CI") == "true" {
			t.Fatalf("no kube-apiserver: %s", shared.why)
		}
		t.Skipf("no kube-apiserver: %s", shared.why)
	}
	return rest.CopyConfig(shared.cfg)
}

// Kubeconfig writes an admin kubeconfig of the shared API server for a
// process, such as a sidecar, and returns its path (skipping as Config).
func Kubeconfig(t testing.TB) string {
	t.Helper()
	Config(t)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, shared.env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
