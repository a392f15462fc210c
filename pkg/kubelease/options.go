package kubelease

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"

	"github.com/baton-dev/baton/internal/clocks"
)

// Defaults of Options.
const (
	DefaultCallTimeout  = 10 * time.Second
	DefaultRewatchFirst = 100 * time.Millisecond
)

// MinTTL is the shortest lease: client-go compares records at whole-second
// precision, and a one-second lease is what a release writes.
const MinTTL = 2 * time.Second

// MinRenewInterval is the shortest time between an elector's renewals on a
// Lease: each renewal must fall in another whole second than the one
// before to be seen by client-go's followers (see Renew), and Renew waits
// for that second when it comes sooner.
const MinRenewInterval = time.Second

// CheckRenewInterval reports whether d leaves a whole second between
// renewals.
func CheckRenewInterval(d time.Duration) error {
	if d < MinRenewInterval {
		return invalid("RenewInterval", "must be at least %v with a Kubernetes Lease: client-go compares its records at one-second precision, and a renewal within the second of the one before is not seen (got %v)", MinRenewInterval, d)
	}
	return nil
}

// Options tunes a Locker. The zero value is ready to use.
type Options struct {
	// Clock counts a holder's lease from the moment its record was
	// observed, and gives each term's SentAt. Default: CLOCK_BOOTTIME on
	// Linux (clocks.Real), the elector's default clock.
	Clock clock.Clock
	// CallTimeout bounds each API call of a waiting Acquire (a get, a
	// create, an update, the opening of a watch), even under a context
	// without deadline. Default: DefaultCallTimeout.
	CallTimeout time.Duration
	// RewatchFirst is the first wait before a watch that failed is opened
	// again; the wait doubles up to the lease duration. A watch that ended
	// without error is opened again at once. Default: DefaultRewatchFirst.
	RewatchFirst time.Duration
	// OnError, if set, is told of each failed API call of a waiting
	// Acquire that Acquire does not return (a watch that failed), with
	// the operation's name: the caller counts them. The answers the API
	// server gives while its cache catches up are not errors.
	OnError func(op string, err error)
}

// Locker hands out terms of one Lease; it implements pkg/lease's Locker.
// It is safe for concurrent use.
type Locker struct {
	leases    Leases
	namespace string
	name      string
	opts      Options

	pending pendingAttempt // the last acquire whose answer was lost
}

// New returns the Locker of the Lease namespace/name, which it creates
// when missing, through leases, the Leases of namespace (NewClient's, or
// clientset.CoordinationV1().Leases(namespace)). It validates the names
// and the options, and states every default; it makes no API call.
func New(leases Leases, namespace, name string, opts Options) (*Locker, error) {
	if leases == nil {
		return nil, fmt.Errorf("%w: nil Leases", ErrInvalid)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return nil, invalid("Namespace", "must be a DNS label (got %q: %s)", namespace, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, invalid("Name", "must be a DNS subdomain (got %q: %s)", name, errs[0])
	}
	if opts.Clock == nil {
		opts.Clock = clocks.Real{}
	}
	switch {
	case opts.CallTimeout < 0:
		return nil, invalid("CallTimeout", "must not be negative (got %v)", opts.CallTimeout)
	case opts.CallTimeout == 0:
		opts.CallTimeout = DefaultCallTimeout
	}
	switch {
	case opts.RewatchFirst < 0:
		return nil, invalid("RewatchFirst", "must not be negative (got %v)", opts.RewatchFirst)
	case opts.RewatchFirst == 0:
		opts.RewatchFirst = DefaultRewatchFirst
	}
	return &Locker{leases: leases, namespace: namespace, name: name, opts: opts}, nil
}

// Name is the Lease's namespace/name.
func (l *Locker) Name() string { return l.namespace + "/" + l.name }

// CheckTTL reports whether ttl is a lease the Lease can carry: whole
// seconds, at least MinTTL, and within leaseDurationSeconds' int32.
func CheckTTL(ttl time.Duration) error {
	switch {
	case ttl < MinTTL:
		return invalid("LeaseTTL", "must be at least %v with a Kubernetes Lease (got %v)", MinTTL, ttl)
	case ttl%time.Second != 0:
		return invalid("LeaseTTL", "must be whole seconds with a Kubernetes Lease, whose records have one-second precision (got %v)", ttl)
	case ttl/time.Second > 1<<31-1:
		return invalid("LeaseTTL", "must be at most %d seconds (got %v)", 1<<31-1, ttl)
	}
	return nil
}

// Ping reads the Lease, for a readiness check: nil when the API server
// answers, even that the Lease does not exist.
func (l *Locker) Ping(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, l.opts.CallTimeout)
	defer cancel()
	_, err := l.leases.Get(cctx, l.name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("kubelease: get Lease %s: %w", l.Name(), err)
	}
	return nil
}
