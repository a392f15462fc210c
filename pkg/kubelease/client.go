package kubelease

import (
	"context"
	"fmt"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Leases is the Locker's seam to the API server: the four calls it makes on
// the Leases of one namespace. client-go's typed LeaseInterface
// (clientset.CoordinationV1().Leases(namespace)) is one; NewClient returns
// a lean one. Errors are the API server's, as client-go returns them, so
// that k8s.io/apimachinery/pkg/api/errors' predicates apply.
type Leases interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordv1.Lease, error)
	Create(ctx context.Context, lease *coordv1.Lease, opts metav1.CreateOptions) (*coordv1.Lease, error)
	Update(ctx context.Context, lease *coordv1.Lease, opts metav1.UpdateOptions) (*coordv1.Lease, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// restLeases is NewClient's Leases: a REST client over a scheme that knows
// coordination.k8s.io/v1 alone. The typed clientset would register every
// API group at start-up, megabytes of memory for calls never made.
type restLeases struct {
	rc        rest.Interface
	namespace string
	params    runtime.ParameterCodec
}

// NewClient returns the Leases of namespace on the API server of cfg,
// with cfg's host, credentials, TLS, rate limits and User-Agent, preferring
// protobuf as client-go does. cfg is not modified. It makes no API call.
func NewClient(cfg *rest.Config, namespace string) (Leases, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil rest.Config", ErrInvalid)
	}
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	if err := coordv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("kubelease: scheme: %w", err)
	}
	c := rest.CopyConfig(cfg)
	if c.RateLimiter == nil && c.QPS > 0 {
		if c.Burst <= 0 {
			return nil, invalid("Burst", "must be positive when {QPS} is set and {RateLimiter} is not (got %d)", c.Burst)
		}
		c.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(c.QPS, c.Burst)
	}
	gv := coordv1.SchemeGroupVersion
	c.GroupVersion, c.APIPath = &gv, "/apis"
	c.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(scheme, serializer.NewCodecFactory(scheme)).WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("kubelease: client: %w", err)
	}
	return &restLeases{rc: rc, namespace: namespace, params: runtime.NewParameterCodec(scheme)}, nil
}

func (c *restLeases) Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordv1.Lease, error) {
	out := &coordv1.Lease{}
	err := c.rc.Get().UseProtobufAsDefault().Namespace(c.namespace).Resource("leases").Name(name).
		VersionedParams(&opts, c.params).Do(ctx).Into(out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *restLeases) Create(ctx context.Context, lease *coordv1.Lease, opts metav1.CreateOptions) (*coordv1.Lease, error) {
	out := &coordv1.Lease{}
	err := c.rc.Post().UseProtobufAsDefault().Namespace(c.namespace).Resource("leases").
		VersionedParams(&opts, c.params).Body(lease).Do(ctx).Into(out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *restLeases) Update(ctx context.Context, lease *coordv1.Lease, opts metav1.UpdateOptions) (*coordv1.Lease, error) {
	out := &coordv1.Lease{}
	err := c.rc.Put().UseProtobufAsDefault().Namespace(c.namespace).Resource("leases").Name(lease.Name).
		VersionedParams(&opts, c.params).Body(lease).Do(ctx).Into(out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *restLeases) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return c.rc.Get().UseProtobufAsDefault().Namespace(c.namespace).Resource("leases").
		VersionedParams(&opts, c.params).Watch(ctx)
}
