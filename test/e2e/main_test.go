//go:build linux

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/test/e2e/harness"
)

var (
	budget   = flag.Duration("e2e.budget", 12*time.Minute, "the whole e2e's deadline; keep it below go test -timeout so that the teardown runs")
	lockWait = flag.Duration("e2e.lock-wait", 4*time.Minute, "how long to wait for another run on this machine to finish")
	logDir   = flag.String("e2e.log-dir", "", "when set, the components' and pods' logs are copied there before the teardown")
)

// active is the cluster being run, for the signal handler.
var (
	activeMu sync.Mutex
	active   *harness.Cluster
)

func setActive(c *harness.Cluster) {
	activeMu.Lock()
	active = c
	activeMu.Unlock()
}

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

// testMain is TestMain with its deferred calls run before the exit.
func testMain(m *testing.M) int {
	flag.Parse()
	if os.Geteuid() == 0 && os.Getenv("BATON_E2E") == "1" {
		// One run at a time: wait for another run's teardown, never undo
		// what a live run is using.
		ctx, cancel := context.WithTimeout(context.Background(), *lockWait)
		release, err := harness.AcquireRunLock(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer release()
		// A run that crashed (a kill -9, a power cut, go test's own
		// timeout) left processes, mounts and rules: undo them first.
		if err := harness.CleanLeftovers(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: cleaning a previous run's leftovers:", err)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: tearing the cluster down\n", sig)
		activeMu.Lock()
		c := active
		activeMu.Unlock()
		if c != nil {
			if err := c.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: teardown:", err)
			}
		}
		os.Exit(1)
	}()
	return m.Run()
}

// requirements returns why the e2e cannot run here, or "".
func requirements() (reason string, env map[string]string) {
	env = map[string]string{}
	if os.Getenv("BATON_E2E") != "1" {
		// go test ./... (make test's race run) passes here: the e2e runs
		// once, from make e2e, which provisions it.
		return "", nil
	}
	if os.Geteuid() != 0 {
		return "needs root (kubelet, containerd, bridge, iptables)", env
	}
	for _, name := range []string{"KUBE_NODE_ASSETS", "HELM"} {
		v := os.Getenv(name)
		if v == "" {
			return name + " is not set (make e2e sets it)", env
		}
		env[name] = v
	}
	images := os.Getenv("BATON_E2E_IMAGES")
	if images == "" {
		images = filepath.Join("..", "..", "bin", "images")
	}
	abs, _ := filepath.Abs(images)
	env["BATON_E2E_IMAGES"] = abs
	for _, img := range imageFiles {
		if _, err := os.Stat(filepath.Join(abs, img)); err != nil {
			return "image " + img + " missing in " + abs + " (make image builds it)", env
		}
	}
	return "", env
}

// imageFiles are make image's docker archives.
var imageFiles = []string{"pause.tar", "baton.tar", "batchjob.tar", "redis.tar", "busybox.tar"}

func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("e2e: cannot run: %s; CI=true does not allow a skip", reason)
	}
	t.Skipf("e2e: skipped: %s", reason)
}

// startCluster brings a cluster up for t, torn down by t.Cleanup (also on
// failure) and by the signal handler.
func startCluster(t *testing.T, ctx context.Context, env map[string]string) *harness.Cluster {
	t.Helper()
	var imgs []string
	for _, img := range imageFiles {
		imgs = append(imgs, filepath.Join(env["BATON_E2E_IMAGES"], img))
	}
	start := time.Now()
	c, err := harness.Start(ctx, harness.Options{Bin: env["KUBE_NODE_ASSETS"], Images: imgs})
	if err != nil {
		t.Fatalf("e2e: bring-up: %v", err)
	}
	setActive(c)
	t.Cleanup(func() {
		if *logDir != "" {
			copyLogs(t, c, *logDir)
		}
		start := time.Now()
		if err := c.Stop(); err != nil {
			t.Errorf("e2e: teardown: %v", err)
		}
		t.Logf("e2e: teardown took %v", time.Since(start).Round(100*time.Millisecond))
		setActive(nil)
	})
	for _, s := range c.Timings {
		t.Logf("e2e: bring-up %-30s %v", s.Step, s.D.Round(time.Millisecond))
	}
	t.Logf("e2e: cluster up in %v (state in %s)", time.Since(start).Round(100*time.Millisecond), c.Dir)
	// The binaries are version-stamped: an unstamped build reports
	// v0.0.0-master+$Format:%H$, which would reach Helm's
	// .Capabilities.KubeVersion.
	server, err := c.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("e2e: server version: %v", err)
	}
	node, err := c.Client.CoreV1().Nodes().Get(ctx, c.Opts().NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("e2e: node: %v", err)
	}
	t.Logf("e2e: API server %s, kubelet %s, %s", server.GitVersion, node.Status.NodeInfo.KubeletVersion, node.Status.NodeInfo.ContainerRuntimeVersion)
	if !strings.HasPrefix(server.GitVersion, "v1.") || !strings.HasPrefix(node.Status.NodeInfo.KubeletVersion, "v1.") {
		t.Fatalf("e2e: unstamped binaries (API server %q, kubelet %q): rebuild them with hack/tools/kube-node.sh", server.GitVersion, node.Status.NodeInfo.KubeletVersion)
	}
	return c
}
