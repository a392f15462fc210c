package kube_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/baton-dev/baton/pkg/kube"
)

// The one API server of this package's tests, started by TestMain when
// KUBEBUILDER_ASSETS names a directory with kube-apiserver, etcd and
// kubectl (`make test` provisions it with hack/tools/kube-assets.sh).
var (
	adminConfig *rest.Config
	// noServer says why there is no API server, when there is none.
	noServer string
	// startFailed is set when the API server was asked for but did not
	// start: a failure of every test that needs it, never a skip.
	startFailed bool
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

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

// apiServer returns an admin configuration for the shared API server. It
// skips the test when there is none, except under CI=true, and fails it
// when the server was asked for but did not start.
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

func clientset(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// leanClient is the publisher's client of production, kube.NewClient, for
// cfg. Publishers in these tests use it, so that it is exercised against
// the real API server; setup and assertions use the typed clientset.
func leanClient(t *testing.T, cfg *rest.Config) kube.Client {
	t.Helper()
	c, err := kube.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// namespace creates a namespace of its own for one test.
func namespace(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "baton-test-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// pod creates a pod object; no kubelet runs it, but its status
// subresource can be patched like a real one's.
func pod(t *testing.T, cs kubernetes.Interface, ns, name string, labels, annotations map[string]string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
