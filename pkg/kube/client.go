package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// DefaultUserAgent is the User-Agent of NewClient's requests when the
// configuration sets none.
const DefaultUserAgent = "baton"

// Client is the Publisher's only seam to the API server: the four calls it
// makes, and nothing more. Errors are the API server's, as client-go returns
// them (a *errors.StatusError for a failed request), so that
// k8s.io/apimachinery/pkg/api/errors' predicates such as IsConflict and
// IsForbidden apply to them.
//
// NewClient returns the implementation the sidecar uses. Any other, such as
// an adapter over a typed clientset in tests, will do.
type Client interface {
	// GetPod reads a pod.
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	// ListPods lists the pods of a namespace.
	ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error)
	// PatchPod patches a pod, or its subresource (such as "status"), and
	// returns the result.
	PatchPod(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, subresource ...string) (*corev1.Pod, error)
	// CreateEvent creates an events.k8s.io/v1 Event.
	CreateEvent(ctx context.Context, namespace string, ev *eventsv1.Event) (*eventsv1.Event, error)
	// WatchPod watches one pod (a watch of the namespace's pods with the
	// field selector metadata.name=name), from resourceVersion ("" : the
	// current state first). The watch ends when ctx does.
	WatchPod(ctx context.Context, namespace, name, resourceVersion string) (watch.Interface, error)
}

// restClient is the Client of NewClient: two REST clients over a scheme
// that knows core/v1 and events.k8s.io/v1 alone. Linking the typed
// clientset instead would register every API group at start-up and cost
// the sidecar about 9 MiB of memory for calls it never makes.
type restClient struct {
	core   rest.Interface // core/v1, at /api
	events rest.Interface // events.k8s.io/v1, at /apis
	params runtime.ParameterCodec
}

var _ Client = (*restClient)(nil)

// NewClient returns a Client for the API server of cfg. It keeps cfg's
// settings (host, credentials, TLS, QPS and Burst, timeout, impersonation,
// User-Agent), and makes requests like client-go's typed clientset: the
// two API groups share one HTTP transport and one rate limiter, and they
// prefer protobuf. An empty User-Agent becomes DefaultUserAgent. cfg is not
// modified. It makes no API call.
func NewClient(cfg *rest.Config) (Client, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil rest.Config", ErrInvalidOptions)
	}
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, eventsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("kube: scheme: %w", err)
		}
	}
	codecs := rest.CodecFactoryForGeneratedClient(scheme, serializer.NewCodecFactory(scheme)).WithoutConversion()

	base := rest.CopyConfig(cfg)
	if base.UserAgent == "" {
		base.UserAgent = DefaultUserAgent
	}
	if base.RateLimiter == nil && base.QPS > 0 {
		if base.Burst <= 0 {
			return nil, invalid("Burst", "must be positive when {QPS} is set and {RateLimiter} is not (got %d)", base.Burst)
		}
		base.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(base.QPS, base.Burst)
	}
	httpClient, err := rest.HTTPClientFor(base)
	if err != nil {
		return nil, fmt.Errorf("kube: http client: %w", err)
	}
	forGroup := func(gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
		c := rest.CopyConfig(base)
		c.GroupVersion = &gv
		c.APIPath = apiPath
		c.NegotiatedSerializer = codecs
		rc, err := rest.RESTClientForConfigAndClient(c, httpClient)
		if err != nil {
			return nil, fmt.Errorf("kube: client for %s: %w", gv, err)
		}
		return rc, nil
	}
	core, err := forGroup(corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, err
	}
	events, err := forGroup(eventsv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	return &restClient{core: core, events: events, params: runtime.NewParameterCodec(scheme)}, nil
}

func (c *restClient) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	err := c.core.Get().
		UseProtobufAsDefault().
		NamespaceIfScoped(namespace, namespace != "").
		Resource("pods").
		Name(name).
		VersionedParams(&metav1.GetOptions{}, c.params).
		Do(ctx).
		Into(pod)
	if err != nil {
		return nil, err
	}
	return pod, nil
}

func (c *restClient) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	list := &corev1.PodList{}
	err := c.core.Get().
		UseProtobufAsDefault().
		NamespaceIfScoped(namespace, namespace != "").
		Resource("pods").
		VersionedParams(&opts, c.params).
		Timeout(timeout).
		Do(ctx).
		Into(list)
	if err != nil {
		return nil, err
	}
	return list, nil
}

func (c *restClient) PatchPod(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, subresource ...string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	err := c.core.Patch(pt).
		UseProtobufAsDefault().
		NamespaceIfScoped(namespace, namespace != "").
		Resource("pods").
		Name(name).
		SubResource(subresource...).
		VersionedParams(&metav1.PatchOptions{}, c.params).
		Body(data).
		Do(ctx).
		Into(pod)
	if err != nil {
		return nil, err
	}
	return pod, nil
}

func (c *restClient) CreateEvent(ctx context.Context, namespace string, ev *eventsv1.Event) (*eventsv1.Event, error) {
	out := &eventsv1.Event{}
	err := c.events.Post().
		UseProtobufAsDefault().
		NamespaceIfScoped(namespace, namespace != "").
		Resource("events").
		VersionedParams(&metav1.CreateOptions{}, c.params).
		Body(ev).
		Do(ctx).
		Into(out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *restClient) WatchPod(ctx context.Context, namespace, name, resourceVersion string) (watch.Interface, error) {
	opts := metav1.ListOptions{
		FieldSelector:       "metadata.name=" + name,
		ResourceVersion:     resourceVersion,
		Watch:               true,
		AllowWatchBookmarks: false,
	}
	return c.core.Get().
		UseProtobufAsDefault().
		NamespaceIfScoped(namespace, namespace != "").
		Resource("pods").
		VersionedParams(&opts, c.params).
		Watch(ctx)
}
