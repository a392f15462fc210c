package kube_test

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/baton-dev/baton/internal/kubetest"
	"github.com/baton-dev/baton/pkg/kube"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// apiServer returns an admin configuration of the package's API server
// (kubetest): it skips without one, except under CI=true.
func apiServer(t *testing.T) *rest.Config { return kubetest.Config(t) }

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
