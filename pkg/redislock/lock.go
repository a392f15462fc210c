package redislock

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
)

// Client is the part of a go-redis client that a Lock uses. *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient satisfy it.
type Client interface {
	redis.Scripter
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

// Defaults and bounds of Options and names.
const (
	// DefaultPrefix starts every key when Options.Prefix is empty.
	DefaultPrefix = lockcore.DefaultPrefix
	// DefaultAttemptTimeout bounds one call to Redis.
	DefaultAttemptTimeout = lockcore.DefaultAttemptTimeout
	// DefaultSubscribeTimeout bounds a subscription's confirmation.
	DefaultSubscribeTimeout = lockcore.DefaultSubscribeTimeout
	// DefaultReplicaAckTimeout bounds the WAIT of Options.MinReplicas.
	DefaultReplicaAckTimeout = lockcore.DefaultReplicaAckTimeout
	// MaxNameLen is the longest lock name or prefix accepted.
	MaxNameLen = lockcore.MaxNameLen
	// MaxFence is the largest fencing token, 2^53-1: Lua counts exactly
	// up to it.
	MaxFence = lockcore.MaxFence
)

// ValidateName checks a lock name or key prefix: 1 to MaxNameLen characters
// from A-Z a-z 0-9 . _ -.
func ValidateName(name string) error { return lockcore.ValidateName(name) }

// Options tunes a Lock. The zero value is valid.
type Options struct {
	// Prefix starts every key of the lock. Default "baton".
	Prefix string
	// Now is the clock read just before a command is sent, for SentAt.
	// Default: the elector's, CLOCK_BOOTTIME on Linux.
	Now func() time.Time
	// AttemptTimeout bounds each call to Redis; a call without a reply by
	// then is abandoned, and an abandoned acquire released by its token.
	// Default 5s, plus ReplicaAckTimeout with MinReplicas.
	AttemptTimeout time.Duration
	// GuardCalls runs each call in a goroutine the caller leaves as soon as
	// its ctx ends, even with a client that bounds calls by their deadline.
	// Default false.
	GuardCalls bool
	// SubscribeTimeout bounds the wait for a subscription's confirmation.
	// Default 5s.
	SubscribeTimeout time.Duration
	// MinReplicas, above 0, makes each acquire and renew wait (WAIT) for
	// that many replicas' acknowledgement; too few gives ErrNotReplicated.
	// Default 0. Standalone and Sentinel clients only.
	MinReplicas int
	// ReplicaAckTimeout bounds that WAIT, whole milliseconds. Default 100ms.
	ReplicaAckTimeout time.Duration
}

func (o Options) core() lockcore.Options {
	return lockcore.Options{Prefix: o.Prefix, Now: o.Now, AttemptTimeout: o.AttemptTimeout, GuardCalls: o.GuardCalls,
		SubscribeTimeout: o.SubscribeTimeout, MinReplicas: o.MinReplicas, ReplicaAckTimeout: o.ReplicaAckTimeout}
}

// Lock is one named lease on Redis, the lease an elector stands on. It is
// safe for concurrent use; each acquire makes a new owner token.
type Lock struct {
	core *lockcore.Lock
}

// New returns the lock named name on client. It validates name and options
// but makes no Redis call.
func New(client Client, name string, opts Options) (*Lock, error) {
	l, err := lockcore.New(client, name, opts.core())
	if err != nil {
		return nil, err
	}
	return &Lock{core: l}, nil
}

// Name is the lock's name.
func (l *Lock) Name() string { return l.core.Name() }

// TryAcquire makes one try to take the lease for identity for ttl (whole
// milliseconds). A lease held by another gives a *HeldError (ErrHeld).
func (l *Lock) TryAcquire(ctx context.Context, identity string, ttl time.Duration) (*Lease, error) {
	return wrap(l.core.TryAcquire(ctx, identity, ttl))
}

// Acquire takes the lease, waiting on the release channel as long as ctx
// allows while another owner holds it: it tries again at each release,
// or when the holder's lease can expire. onHeld, if not nil, sees each
// holder found.
func (l *Lock) Acquire(ctx context.Context, identity string, ttl time.Duration, onHeld func(Holder)) (*Lease, error) {
	return wrap(l.core.Acquire(ctx, identity, ttl, onHeld))
}

// Watch subscribes to the lock's release channel and returns once Redis
// has confirmed it (within Options.SubscribeTimeout).
func (l *Lock) Watch(ctx context.Context) (*Watcher, error) {
	w, err := l.core.Watch(ctx)
	if err != nil {
		return nil, err
	}
	return &Watcher{core: w}, nil
}

// Info is what Inspect saw of a lock.
type Info = lockcore.Info

// Inspect reads the lock's state without writing.
func (l *Lock) Inspect(ctx context.Context) (Info, error) { return l.core.Inspect(ctx) }

// Watcher is a subscription to a lock's release channel.
type Watcher struct {
	core *lockcore.Watcher
}

// Wait blocks until a release is announced, d elapses, or ctx ends; only
// the last returns an error.
func (w *Watcher) Wait(ctx context.Context, d time.Duration) error { return w.core.Wait(ctx, d) }

// Close ends the subscription. It always returns nil.
func (w *Watcher) Close() error { return w.core.Close() }

func wrap(l *lockcore.Lease, err error) (*Lease, error) {
	if err != nil {
		return nil, err
	}
	return &Lease{core: l}, nil
}
