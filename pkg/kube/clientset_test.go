package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// clientset adapts a typed clientset, such as client-go's fake one with
// its reactors for failure injection, to Client. Tests only: production
// code must not link the typed clientset (see TestSidecarDoesNotLinkTheClientset).
type clientset struct{ cs kubernetes.Interface }

var _ Client = clientset{}

func (c clientset) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return c.cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (c clientset) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	return c.cs.CoreV1().Pods(namespace).List(ctx, opts)
}

func (c clientset) PatchPod(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, subresource ...string) (*corev1.Pod, error) {
	return c.cs.CoreV1().Pods(namespace).Patch(ctx, name, pt, data, metav1.PatchOptions{}, subresource...)
}

func (c clientset) CreateEvent(ctx context.Context, namespace string, ev *eventsv1.Event) (*eventsv1.Event, error) {
	return c.cs.EventsV1().Events(namespace).Create(ctx, ev, metav1.CreateOptions{})
}

func (c clientset) WatchPod(ctx context.Context, namespace, name, resourceVersion string) (watch.Interface, error) {
	return c.cs.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + name, ResourceVersion: resourceVersion,
	})
}
