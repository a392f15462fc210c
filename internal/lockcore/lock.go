package lockcore

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/names"
)

// Client is the part of a go-redis client that a Lock uses. *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient (standalone,
// Sentinel or Cluster) all satisfy it.
type Client interface {
	redis.Scripter
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

var (
	//go:embed acquire.lua
	acquireSource string
	//go:embed renew.lua
	renewSource string
	//go:embed release.lua
	releaseSource string

	acquireScript = redis.NewScript(fenceSource + acquireSource)
	renewScript   = redis.NewScript(fenceSource + renewSource)
	// release.lua also decides whom to wake, by the fair queue's rules.
	releaseScript = redis.NewScript(queueSource + fenceSource + releaseSource)
)

// MaxNameLen is the longest lock name or prefix accepted.
const MaxNameLen = names.MaxLen

// ValidateName checks a lock name or key prefix: 1 to MaxNameLen characters
// from A-Z a-z 0-9 . _ -.
func ValidateName(name string) error {
	if why := names.Check(name); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, why)
	}
	return nil
}

// Options tunes a Lock. The zero value is valid; each field documents its
// default.
type Options struct {
	// Prefix starts every key of the lock. Default "baton".
	Prefix string
	// Identity names the holder in TryLock leases. Default "<hostname>:<pid>".
	// The elector passes its own identity to Acquire instead.
	Identity string
	// WatchdogTimeout is the lease TTL of TryLock without a lease time; the
	// watchdog renews it every third of it until Release. Default 30s, as in
	// Redisson.
	WatchdogTimeout time.Duration
	// Now is the clock read just before a command is sent, for Lease.SentAt.
	// Default: the clock that pkg/election's elector uses by default, on
	// CLOCK_BOOTTIME on Linux (it counts suspended time, which Go's
	// monotonic clock does not) and time.Now elsewhere.
	Now func() time.Time

	// AttemptTimeout bounds each call of the lock to Redis: one acquire,
	// renew or release script, with its WAIT when MinReplicas is set, and
	// each try inside Acquire. A call that has no reply by then (a stalled
	// connection) is abandoned and reported as an error that matches
	// context.DeadlineExceeded; the caller's ctx can only make it shorter.
	// An abandoned acquire is released by its owner token as soon as its
	// reply or error arrives, so a timeout never leaves a lease behind for
	// longer than the call takes. Default 5s (DefaultAttemptTimeout), plus
	// ReplicaAckTimeout when MinReplicas is set; it must exceed
	// ReplicaAckTimeout.
	AttemptTimeout time.Duration
	// GuardCalls runs every call to Redis in a goroutine of its own that
	// the caller stops waiting for as soon as its ctx ends, also with a
	// client that bounds calls by their context's deadline. Without it,
	// such a client (a go-redis client with ContextTimeoutEnabled, and
	// read and write timeouts not switched off) runs calls on the caller's
	// goroutine, which saves a goroutine and two hand-overs per call: its
	// socket ends a stalled call at the deadline (the attempt timeout at
	// the latest), but a cancellation is seen only when the call returns.
	// Set it where a cancellation must end a stalled call at once: the
	// sidecar's elector does, so that SIGTERM never waits for a socket
	// deadline. Any other client always gets the guard. Default false.
	GuardCalls bool
	// SubscribeTimeout bounds the wait for Redis to confirm the subscription
	// to the release channel (Watch, and Acquire before it waits). Default
	// 5s (DefaultSubscribeTimeout), go-redis's default dial timeout.
	SubscribeTimeout time.Duration

	// MinReplicas, when above 0, makes every acquire and every renew wait
	// until at least this many replicas have acknowledged it (Redis WAIT,
	// on the same connection as the script). An acquire with fewer acks
	// within ReplicaAckTimeout releases the lease at once; a renew with
	// fewer acks counts as failed. Both return a *NotReplicatedError
	// (ErrNotReplicated): a failover can then not promote a replica that
	// never saw a lease or a renewal somebody leads on. Default 0: no wait.
	// It needs a client with pipelines on a single connection (standalone
	// or Sentinel); Cluster and Ring clients are refused, as their WAIT can
	// reach another shard than the script.
	MinReplicas int
	// QueueHeartbeat is how often a fair waiter (pkg/locks) (or of a fair
	// Semaphore) refreshes its queue entry. An entry not refreshed for
	// QueueMissedHeartbeats (3) heartbeats, in Redis server time, is dead:
	// the next script that looks removes it, so a waiter that died frees its
	// place within 3 heartbeats plus one try of the next waiter, at most one
	// more heartbeat. A shorter heartbeat frees places sooner and costs up
	// to 3 script calls per heartbeat per Client and queue. Default 500ms
	// (DefaultQueueHeartbeat); at least 10ms (MinQueueHeartbeat) and at most
	// 1 minute (MaxQueueHeartbeat), a whole number of milliseconds.
	QueueHeartbeat time.Duration

	// KeyGrace is how long an application lock's or semaphore's keys
	// (pkg/locks: Mutex, fair Mutex, Semaphore) outlive the end of its furthest
	// lease: each acquire and renew sets their TTL to that end plus
	// KeyGrace, and a release to KeyGrace, so that a name nobody holds
	// leaves no key behind. The election's keys (Acquire, TryAcquire) never
	// expire. Default 10s (DefaultKeyGrace); a positive whole number of
	// milliseconds.
	KeyGrace time.Duration
	// Fences is the memory of the fences and lease ends this client has
	// seen, which an acquire checks Redis against for lost writes (see
	// FenceMemory). Default: one of the Lock's own.
	Fences *FenceMemory

	// ReplicaAckTimeout bounds the WAIT of MinReplicas. It is spent out of
	// the term's validity, and must be a positive whole number of
	// milliseconds (WAIT with 0 would block for ever). Default 100ms.
	ReplicaAckTimeout time.Duration
}

// DefaultReplicaAckTimeout is the WAIT timeout when
// Options.ReplicaAckTimeout is zero.
const DefaultReplicaAckTimeout = 100 * time.Millisecond

// DefaultAttemptTimeout is the bound of one call to Redis when
// Options.AttemptTimeout is zero (plus ReplicaAckTimeout with MinReplicas).
const DefaultAttemptTimeout = 5 * time.Second

// DefaultSubscribeTimeout is the bound of a subscription's confirmation when
// Options.SubscribeTimeout is zero.
const DefaultSubscribeTimeout = 5 * time.Second

// DefaultKeyGrace is Options.KeyGrace when it is zero.
const DefaultKeyGrace = 10 * time.Second

// DefaultQueueHeartbeat is Options.QueueHeartbeat when it is zero.
const DefaultQueueHeartbeat = 500 * time.Millisecond

// MinQueueHeartbeat and MaxQueueHeartbeat bound Options.QueueHeartbeat.
const (
	MinQueueHeartbeat = 10 * time.Millisecond
	MaxQueueHeartbeat = time.Minute
)

// QueueMissedHeartbeats is how many heartbeats a queue entry outlives its
// last refresh by: its deadline is the refresh's Redis server time plus
// QueueMissedHeartbeats * QueueHeartbeat.
const QueueMissedHeartbeats = 3

// DefaultPrefix is the key prefix when Options.Prefix is empty.
const DefaultPrefix = "baton"

// DefaultWatchdogTimeout is the TryLock lease TTL when Options.WatchdogTimeout
// is zero.
const DefaultWatchdogTimeout = 30 * time.Second

// MaxFence is the largest fencing token: 2^53-1. The scripts count in Lua,
// whose numbers are doubles, exact only up to 2^53. A counter or a fence
// above it is reported as a foreign value instead of being rounded. Fences
// start from Redis server time in microseconds, which reaches MaxFence in
// the year 2255.
const MaxFence = 1<<53 - 1

// Lock is one named lease lock on Redis. It is safe for concurrent use; each
// acquire creates a new owner token, so one Lock can serve several owners.
type Lock struct {
	client Client
	name   string
	opts   Options
	// direct says that client bounds each call by its context's deadline,
	// so that calls need no guard goroutine: see bounded.
	direct bool

	leaseKey string
	fenceKey string
	termKey  string
	channel  string

	// The fair queue: see queue.lua.
	queueKey     string
	deadlinesKey string
	wakePrefix   string
}

// keyRules is the key rules argument (keep) of the lock's and the
// semaphore's scripts, decided here alone: an application's keys (TryLock,
// a fair Mutex, a Semaphore) expire KeyGrace after their furthest lease end;
// the election's (Acquire, TryAcquire: 0) never expire, and a store
// without the lock's counter and term record is unknown (acquire.lua).
func (l *Lock) keyRules(app bool) int64 {
	if !app {
		return 0
	}
	return l.opts.KeyGrace.Milliseconds()
}

// recall is the fence memory's word on key for an acquire under the given
// rules: the highest fence seen, and how long, in milliseconds, a lease at
// it may still be valid. The election's rule is one TTL, whatever the
// memory says; an application's is the latest lease end remembered.
func (l *Lock) recall(key string, app bool, ttl time.Duration) (seen string, validMS int64) {
	fence, left := l.opts.Fences.recall(key, l.opts.Now())
	if !app {
		left = ttl
	}
	return strconv.FormatUint(fence, 10), (left + time.Millisecond - 1).Milliseconds()
}

// saw remembers fence on key, with a lease that can be valid for left
// from now; issued says this client was granted it (see FenceMemory).
func (l *Lock) saw(key string, fence uint64, left time.Duration, issued bool) {
	now := l.opts.Now()
	l.opts.Fences.saw(key, fence, now.Add(left), now, issued)
}

// New returns a lock named name on client. It validates name and options but
// makes no Redis call.
func New(client Client, name string, opts Options) (*Lock, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalid)
	}
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("lock name: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if names.Validate(opts.Prefix) != nil {
		return nil, invalid("Prefix", "must be 1 to %d characters from A-Z a-z 0-9 . _ - (got %q)", MaxNameLen, opts.Prefix)
	}
	if opts.WatchdogTimeout == 0 {
		opts.WatchdogTimeout = DefaultWatchdogTimeout
	}
	if opts.WatchdogTimeout < 3*time.Millisecond {
		return nil, invalid("WatchdogTimeout", "must be at least 3ms (got %v)", opts.WatchdogTimeout)
	}
	if opts.Identity == "" {
		opts.Identity = defaultIdentity()
	}
	if opts.Now == nil {
		opts.Now = clocks.Now
	}
	if err := validateReplicas(client, &opts); err != nil {
		return nil, err
	}
	if opts.AttemptTimeout < 0 {
		return nil, invalid("AttemptTimeout", "must not be negative (got %v)", opts.AttemptTimeout)
	}
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
		if opts.MinReplicas > 0 {
			opts.AttemptTimeout += opts.ReplicaAckTimeout
		}
	}
	if opts.MinReplicas > 0 && opts.AttemptTimeout <= opts.ReplicaAckTimeout {
		return nil, fmt.Errorf("%w: attempt timeout %v must exceed the replica ack timeout %v, or every WAIT outlasts its call",
			ErrInvalid, opts.AttemptTimeout, opts.ReplicaAckTimeout)
	}
	if opts.SubscribeTimeout < 0 {
		return nil, invalid("SubscribeTimeout", "must not be negative (got %v)", opts.SubscribeTimeout)
	}
	if opts.SubscribeTimeout == 0 {
		opts.SubscribeTimeout = DefaultSubscribeTimeout
	}
	if err := validateHeartbeat(&opts); err != nil {
		return nil, err
	}
	if opts.KeyGrace == 0 {
		opts.KeyGrace = DefaultKeyGrace
	}
	if opts.KeyGrace < time.Millisecond || opts.KeyGrace%time.Millisecond != 0 {
		return nil, invalid("KeyGrace", "must be a positive whole number of milliseconds (got %v)", opts.KeyGrace)
	}
	if opts.Fences == nil {
		opts.Fences, _ = NewFenceMemory(2) // the lock's and its semaphore's counter
	}
	tag := opts.Prefix + ":{" + name + "}"
	l := &Lock{
		client:   client,
		name:     name,
		opts:     opts,
		direct:   !opts.GuardCalls && deadlineClient(client),
		leaseKey: tag + ":lease",
		fenceKey: tag + ":fence",
		termKey:  tag + ":term",
		channel:  tag + ":released",

		queueKey:     tag + ":queue",
		deadlinesKey: tag + ":queue-deadlines",
		wakePrefix:   tag + ":wake:",
	}
	return l, nil
}

// Name is the lock's name.
func (l *Lock) Name() string { return l.name }

// Client is the client the lock was made with.
func (l *Lock) Client() Client { return l.client }

// Opts are the lock's options, with their defaults filled in.
func (l *Lock) Opts() Options { return l.opts }

// Keys returns the lease key, the fencing counter key and the release
// channel, for operators and tests. The fourth name of the lock, the term
// record, is TermKey. All four share the hash tag {name}, so they lie in
// one Cluster hash slot:
//
//   - <prefix>:{name}:lease, a hash (owner token, holder identity, fence,
//     acquire time) with the lease TTL;
//   - <prefix>:{name}:fence, a string, the last fence;
//   - <prefix>:{name}:term, a hash (fence, valid_until_us);
//
// The election's (Acquire, TryAcquire) fence and term keys never expire;
// an application lock's (pkg/locks) expire Options.KeyGrace
// after its furthest lease end, or after its release.
//   - <prefix>:{name}:released, the pub/sub channel of releases.
func (l *Lock) Keys() (lease, fence, channel string) { return l.leaseKey, l.fenceKey, l.channel }

// TermKey returns the key of the term record, a hash with the newest
// term's fence and valid_until_us: until when, in Redis server time
// (microseconds since the Unix epoch), that term can still be valid. Every
// acquire and renew raises it to the lease's expiry, and a release sets it
// to 0. While it lies in the future, no candidate may take the lease, even
// when the lease key itself is gone (evicted by maxmemory or deleted by
// hand): its holder may still be acting on it. The election's never
// expires, so no volatile-* eviction policy removes it; an application
// lock's expires Options.KeyGrace after that validity. To hand a lock over before then,
// delete both the lease and the term key.
func (l *Lock) TermKey() string { return l.termKey }
