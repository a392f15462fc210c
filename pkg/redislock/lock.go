package redislock

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
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

	acquireScript = redis.NewScript(acquireSource)
	renewScript   = redis.NewScript(renewSource)
	releaseScript = redis.NewScript(releaseSource)
)

// MaxNameLen is the longest lock name or prefix accepted.
const MaxNameLen = 128

// nameRule is the charset of lock names and prefixes: it keeps keys
// readable, and it excludes braces so that the hash tag stays ours.
var nameRule = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ValidateName checks a lock name or key prefix: 1 to MaxNameLen characters
// from A-Z a-z 0-9 . _ -.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: must not be empty", ErrInvalid)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalid, len(name), MaxNameLen)
	case !nameRule.MatchString(name):
		return fmt.Errorf("%w: %q may only contain A-Z a-z 0-9 . _ -", ErrInvalid, name)
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
	// watchdog renews it every third of it until Unlock. Default 30s, as in
	// Redisson.
	WatchdogTimeout time.Duration
	// Now is the clock read just before a command is sent, for Lease.SentAt.
	// Default time.Now (which carries a monotonic reading).
	Now func() time.Time

	// MinReplicas, when above 0, makes every acquire wait until at least
	// this many replicas have acknowledged the new lease (Redis WAIT, on the
	// same connection as the acquire script). With fewer acks within
	// ReplicaAckTimeout the lease is released at once and TryAcquire
	// returns ErrNotReplicated: a failover can then not promote a replica
	// that never saw a lease somebody leads on. Default 0: no wait. It needs
	// a client with pipelines on a single connection (standalone or
	// Sentinel); a Cluster client is refused.
	MinReplicas int
	// ReplicaAckTimeout bounds the WAIT of MinReplicas. It is spent out of
	// the term's validity. Default 100ms.
	ReplicaAckTimeout time.Duration
}

// DefaultReplicaAckTimeout is the WAIT timeout when
// Options.ReplicaAckTimeout is zero.
const DefaultReplicaAckTimeout = 100 * time.Millisecond

// DefaultPrefix is the key prefix when Options.Prefix is empty.
const DefaultPrefix = "baton"

// DefaultWatchdogTimeout is the TryLock lease TTL when Options.WatchdogTimeout
// is zero.
const DefaultWatchdogTimeout = 30 * time.Second

// Lock is one named lease lock on Redis. It is safe for concurrent use; each
// acquire creates a new owner token, so one Lock can serve several owners.
type Lock struct {
	client Client
	name   string
	opts   Options

	leaseKey string
	fenceKey string
	channel  string

	// seen is the highest fence this Lock has seen, held or taken. A fence
	// counter below it in Redis means lost writes: see acquire.lua.
	seen atomic.Uint64
}

// saw raises seen to fence.
func (l *Lock) saw(fence uint64) {
	for {
		old := l.seen.Load()
		if fence <= old || l.seen.CompareAndSwap(old, fence) {
			return
		}
	}
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
	if err := ValidateName(opts.Prefix); err != nil {
		return nil, fmt.Errorf("prefix: %w", err)
	}
	if opts.WatchdogTimeout == 0 {
		opts.WatchdogTimeout = DefaultWatchdogTimeout
	}
	if opts.WatchdogTimeout < 3*time.Millisecond {
		return nil, fmt.Errorf("%w: watchdog timeout %v must be at least 3ms", ErrInvalid, opts.WatchdogTimeout)
	}
	if opts.Identity == "" {
		opts.Identity = defaultIdentity()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinReplicas < 0 {
		return nil, fmt.Errorf("%w: min replicas %d must not be negative", ErrInvalid, opts.MinReplicas)
	}
	if opts.ReplicaAckTimeout < 0 {
		return nil, fmt.Errorf("%w: replica ack timeout %v must not be negative", ErrInvalid, opts.ReplicaAckTimeout)
	}
	if opts.ReplicaAckTimeout == 0 {
		opts.ReplicaAckTimeout = DefaultReplicaAckTimeout
	}
	if opts.MinReplicas > 0 {
		if _, cluster := client.(*redis.ClusterClient); cluster {
			return nil, fmt.Errorf("%w: min replicas needs a standalone or Sentinel client, not Cluster", ErrInvalid)
		}
		if _, ok := client.(pipeliner); !ok {
			return nil, fmt.Errorf("%w: min replicas needs a client with Pipeline", ErrInvalid)
		}
	}
	tag := opts.Prefix + ":{" + name + "}"
	return &Lock{
		client:   client,
		name:     name,
		opts:     opts,
		leaseKey: tag + ":lease",
		fenceKey: tag + ":fence",
		channel:  tag + ":released",
	}, nil
}

// Name is the lock's name.
func (l *Lock) Name() string { return l.name }

// Keys returns the lease key, the fencing counter key and the release
// channel, for operators and tests.
func (l *Lock) Keys() (lease, fence, channel string) { return l.leaseKey, l.fenceKey, l.channel }

// Lease is one term of ownership. Its fields are fixed at acquire time.
type Lease struct {
	lock     *Lock
	token    string
	identity string
	fence    uint64
	ttl      time.Duration
	sentAt   time.Time
}

// Fence is the term's fencing token; it is larger than any earlier term's.
func (s *Lease) Fence() uint64 { return s.fence }

// Identity is the holder identity stored with the lease.
func (s *Lease) Identity() string { return s.identity }

// Token is the random owner token (secret to the holder).
func (s *Lease) Token() string { return s.token }

// TTL is the lease time given to acquire and each renew.
func (s *Lease) TTL() time.Duration { return s.ttl }

// SentAt is the local time, taken just before the successful acquire was
// sent. The lease cannot have expired in Redis before SentAt + TTL.
func (s *Lease) SentAt() time.Time { return s.sentAt }

// TryAcquire makes one attempt to take the lease for ttl. When another owner
// holds it, the error is a *HeldError (errors.Is(err, ErrHeld)).
func (l *Lock) TryAcquire(ctx context.Context, identity string, ttl time.Duration) (*Lease, error) {
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	if identity == "" {
		return nil, fmt.Errorf("%w: empty identity", ErrInvalid)
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	sentAt := l.opts.Now()
	keys := []string{l.leaseKey, l.fenceKey}
	args := []any{token, identity, ttl.Milliseconds(), l.channel, strconv.FormatUint(l.seen.Load(), 10)}
	var (
		reply []any
		acked int64
	)
	if l.opts.MinReplicas > 0 {
		reply, acked, err = l.acquireAndWait(ctx, keys, args)
	} else {
		reply, err = acquireScript.Run(ctx, l.client, keys, args...).Slice()
	}
	if err != nil {
		return nil, fmt.Errorf("redislock: acquire %q: %w", l.name, err)
	}
	switch kind(reply) {
	case "ok":
		fence, err := replyUint(reply, 1)
		if err != nil {
			return nil, err
		}
		l.saw(fence)
		lease := &Lease{lock: l, token: token, identity: identity, fence: fence, ttl: ttl, sentAt: sentAt}
		if l.opts.MinReplicas > 0 && acked < int64(l.opts.MinReplicas) {
			rerr := lease.Release(context.WithoutCancel(ctx))
			return nil, errors.Join(&NotReplicatedError{Lock: l.name, Acked: int(acked), Want: l.opts.MinReplicas, Timeout: l.opts.ReplicaAckTimeout}, rerr)
		}
		return lease, nil
	case "held":
		if len(reply) != 4 {
			return nil, unexpected(reply)
		}
		who, _ := reply[1].(string)
		fence, err := replyUint(reply, 2)
		if err != nil {
			return nil, err
		}
		pttl, ok := reply[3].(int64)
		if !ok {
			return nil, unexpected(reply)
		}
		l.saw(fence)
		return nil, &HeldError{Lock: l.name, Holder: Holder{Identity: who, Fence: fence, Remaining: time.Duration(pttl) * time.Millisecond}}
	case "foreign":
		return nil, foreignError(reply)
	case "denied":
		if len(reply) != 3 {
			return nil, unexpected(reply)
		}
		command, _ := reply[1].(string)
		channel, _ := reply[2].(string)
		return nil, &DeniedError{Command: command, Channel: channel}
	}
	return nil, unexpected(reply)
}

// pipeliner is a client that can pipeline commands on one connection.
type pipeliner interface {
	Pipeline() redis.Pipeliner
}

// acquireAndWait runs the acquire script and WAIT in one pipeline, so that
// WAIT counts the replicas that have the acquire: it must run on the same
// connection. A NOSCRIPT reply loads the script and tries once more.
func (l *Lock) acquireAndWait(ctx context.Context, keys []string, args []any) ([]any, int64, error) {
	p := l.client.(pipeliner) // checked in New
	for attempt := 0; ; attempt++ {
		pipe := p.Pipeline()
		eval := pipe.EvalSha(ctx, acquireScript.Hash(), keys, args...)
		wait := pipe.Do(ctx, "WAIT", l.opts.MinReplicas, l.opts.ReplicaAckTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		if err := eval.Err(); err != nil {
			if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				if err := acquireScript.Load(ctx, l.client).Err(); err != nil {
					return nil, 0, err
				}
				continue
			}
			return nil, 0, err
		}
		reply, err := eval.Slice()
		if err != nil {
			return nil, 0, err
		}
		acked, err := wait.Int64()
		if err != nil {
			// The lease may be taken: report it unreplicated, so the
			// caller releases it.
			return reply, 0, nil
		}
		return reply, acked, nil
	}
}

// Renew extends the lease to its TTL from now, while this owner still holds
// it. A lease that is gone or someone else's gives a *LostError
// (errors.Is(err, ErrLost)); any other error is a transport or server error
// and the lease may still be held.
func (s *Lease) Renew(ctx context.Context) error {
	l := s.lock
	reply, err := renewScript.Run(ctx, l.client, []string{l.leaseKey}, s.token, s.ttl.Milliseconds()).Slice()
	if err != nil {
		return fmt.Errorf("redislock: renew %q: %w", l.name, err)
	}
	switch kind(reply) {
	case "ok":
		return nil
	case "lost":
		who, _ := reply[1].(string)
		return &LostError{Lock: l.name, Holder: who}
	case "foreign":
		return foreignError(reply)
	}
	return unexpected(reply)
}

// Release deletes the lease if this owner still holds it and announces the
// release to waiters in the same atomic step. If the lease expired or was
// taken over, nothing is deleted and the error is ErrNotHeld.
func (s *Lease) Release(ctx context.Context) error {
	l := s.lock
	n, err := releaseScript.Run(ctx, l.client, []string{l.leaseKey}, s.token, l.channel).Int64()
	if err != nil {
		return fmt.Errorf("redislock: release %q: %w", l.name, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: lock %q, fence %d", ErrNotHeld, l.name, s.fence)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Millisecond || ttl%time.Millisecond != 0 {
		return fmt.Errorf("%w: ttl %v must be a positive whole number of milliseconds", ErrInvalid, ttl)
	}
	return nil
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("redislock: owner token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func kind(reply []any) string {
	if len(reply) == 0 {
		return ""
	}
	s, _ := reply[0].(string)
	return s
}

func replyUint(reply []any, i int) (uint64, error) {
	if i >= len(reply) {
		return 0, unexpected(reply)
	}
	s, ok := reply[i].(string)
	if !ok {
		return 0, unexpected(reply)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: fence %q: %v", ErrUnexpectedReply, s, err)
	}
	return v, nil
}

func foreignError(reply []any) error {
	if len(reply) != 3 {
		return unexpected(reply)
	}
	key, _ := reply[1].(string)
	what, _ := reply[2].(string)
	return &ForeignError{Key: key, What: what}
}

func unexpected(reply []any) error {
	return fmt.Errorf("%w: %v", ErrUnexpectedReply, reply)
}
