package kubelease_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The one API server of this package's tests, started by TestMain when
// KUBEBUILDER_ASSETS names kube-apiserver and etcd (`make test` sets it,
// from hack/tools/kube-assets.sh).
var (
	adminConfig *rest.Config
	noServer    string
	startFailed bool
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		noServer = "KUBEBUILDER_ASSETS is not set (run `make test`, or export KUBEBUILDER_ASSETS=$(hack/tools/kube-assets.sh))"
		return m.Run()
	}
	env := &envtest.Environment{ControlPlaneStartTimeout: time.Minute, ControlPlaneStopTimeout: time.Minute}
	cfg, err := env.Start()
	if err != nil {
		noServer, startFailed = fmt.Sprintf("envtest did not start: %v", err), true
		return m.Run()
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest stop: %v\n", err)
		}
	}()
	adminConfig = cfg
	return m.Run()
}

// apiServer returns an admin configuration of the shared API server; it
// skips without one, except under CI=true, and fails when it did not start.
func apiServer(t *testing.T) *rest.Config {
	t.Helper()
	if adminConfig == nil {
		if startFailed || os.Getenv("CI") == "true" {
			t.Fatalf("no kube-apiserver: %s", noServer)
		}
		t.Skipf("no kube-apiserver: %s", noServer)
	}
	return rest.CopyConfig(adminConfig)
}

var nsSeq atomic.Int64

// namespace creates a namespace of its own for a test, and a clientset.
func namespace(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(apiServer(t))
	name := fmt.Sprintf("kl-%s-%d", strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), nsSeq.Add(1))
	if len(name) > 63 {
		name = fmt.Sprintf("kl-%d", nsSeq.Add(1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return cs, name
}
