//go:build linux

package interop

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/baton-dev/baton/internal/sidecartest"
)

var (
	handovers = flag.Int("interop.handovers", 100, "handovers in each direction (baton to client-go, client-go to baton), spread over -interop.lanes Leases")
	lanes     = flag.Int("interop.lanes", 4, "Leases driven side by side, each by one baton replica and one client-go elector")
	seed      = flag.Uint64("interop.seed", 1, "seed of the moments of the faults")
	// A frozen node: nothing on it can stop the job, the test must fail.
	freeze = flag.Bool("interop.freeze", false, "a SIGSTOP of baton also stops its guard and job (as a frozen node): the test must then fail with overlaps")
)

// What TestMain prepared: the API server, and the three programs.
var (
	restConfig *rest.Config
	kubeconfig string
	batonBin   string
	clientGo   string
	stampJob   string
	noServer   string
	setupErr   error
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		noServer = "KUBEBUILDER_ASSETS is not set (run `make test`, or export KUBEBUILDER_ASSETS=$(hack/tools/kube-assets.sh))"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "baton-interop-")
	if err != nil {
		setupErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	bin, cleanup, err := sidecartest.Build()
	if err != nil {
		setupErr = err
		return m.Run()
	}
	defer cleanup()
	batonBin = bin
	clientGo, stampJob = filepath.Join(dir, "clientgo"), filepath.Join(dir, "stampjob")
	for out, pkg := range map[string]string{clientGo: "./clientgo", stampJob: "./stampjob"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			setupErr = fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
			return m.Run()
		}
	}
	env := &envtest.Environment{ControlPlaneStartTimeout: time.Minute, ControlPlaneStopTimeout: time.Minute}
	cfg, err := env.Start()
	if err != nil {
		setupErr = fmt.Errorf("envtest did not start: %w", err)
		return m.Run()
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest stop: %v\n", err)
		}
	}()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		setupErr = err
		return m.Run()
	}
	restConfig = cfg
	return m.Run()
}

// apiServer skips without an API server, except under CI=true, and fails
// when the set-up failed.
func apiServer(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("set-up: %v", setupErr)
	}
	if restConfig == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no kube-apiserver under CI=true: %s", noServer)
		}
		t.Skipf("no kube-apiserver: %s", noServer)
	}
}
