package lockcore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Lease is one term of ownership. Its fields are fixed at acquire time.
type Lease struct {
	lock     *Lock
	token    string
	identity string
	fence    uint64
	ttl      time.Duration
	sentAt   time.Time
	// app says the lease follows an application lock's key rules: see
	// Lock.keyRules.
	app bool
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
// sent. The lease cannot have expired in Redis before SentAt + TTL; if the
// key vanishes sooner (eviction, DEL), the term record (Lock.TermKey) still
// holds every other candidate off until then.
func (s *Lease) SentAt() time.Time { return s.sentAt }

// Name is the name of the lease's lock.
func (s *Lease) Name() string { return s.lock.name }

// Ended tells the fence memory that the lease was released.
func (s *Lease) Ended() { s.lock.opts.Fences.ended(s.lock.fenceKey, s.fence) }

// TryAcquire makes one attempt to take the lease for ttl. When another owner
// holds it, the error is a *HeldError (errors.Is(err, ErrHeld)); a holder
// with an empty Identity is a quarantine, during which nobody may lead
// (see TermKey). TryAcquire and Acquire follow the election's rules: the
// lock's keys never expire, and a store that has neither its fence counter
// nor its term record (a brand-new lock, or one whose data Redis lost) is
// quarantined for one ttl before the first term, since a holder may still
// believe in a term Redis forgot. The attempt is bounded by Options.AttemptTimeout and by
// ctx; when either ends first, or the reply is lost, a lease the attempt
// may have taken is released by its owner token in the background.
func (l *Lock) TryAcquire(ctx context.Context, identity string, ttl time.Duration) (*Lease, error) {
	if err := checkAcquire(identity, ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	return l.acquireAs(ctx, token, identity, ttl, false, nil)
}

// TryApp is TryLock's single try: TryAcquire under an application's key
// rules (see Lock.keyRules).
func (l *Lock) TryApp(ctx context.Context, identity string, ttl time.Duration) (*Lease, error) {
	if err := checkAcquire(identity, ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	return l.acquireAs(ctx, token, identity, ttl, true, nil)
}

func checkAcquire(identity string, ttl time.Duration) error {
	if err := CheckTTL(ttl); err != nil {
		return err
	}
	if identity == "" {
		return fmt.Errorf("%w: empty identity", ErrInvalid)
	}
	return nil
}

// fairTry makes acquireAs a try of fair_acquire.lua: mode is its ARGV[10]
// (tryOnce, tryQueued or tryJoin: see fair.go).
type fairTry struct{ mode string }

// acquireAs is one acquire under token: acquire.lua, or fair_acquire.lua
// when fair is not nil; app chooses the key rules (see Lock.keyRules).
func (l *Lock) acquireAs(ctx context.Context, token, identity string, ttl time.Duration, app bool, fair *fairTry) (*Lease, error) {
	sentAt := l.opts.Now()
	script := acquireScript
	keys := []string{l.leaseKey, l.fenceKey, l.termKey}
	seen, seenMS := l.recall(l.fenceKey, app, ttl)
	args := []any{token, identity, ttl.Milliseconds(), l.channel, seen, seenMS, l.keyRules(app)}
	if fair != nil {
		script = fairAcquireScript
		keys = append(keys, l.queueKey, l.deadlinesKey)
		args = append(args, l.wakePrefix, entryLifetime(l.opts).Milliseconds(), fair.mode)
	}
	r, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) (evalReply, error) {
		return l.eval(ctx, script, keys, args)
	}, func(evalReply, error) { l.releaseOrphan(token) })
	if err != nil {
		if MaybeSent(err) {
			go l.releaseOrphan(token)
		}
		return nil, fmt.Errorf("redislock: acquire %q: %w", l.name, err)
	}
	reply := r.reply
	switch kind(reply) {
	case "ok":
		fence, err := replyUint(reply, 1)
		if err != nil {
			go l.releaseOrphan(token)
			return nil, err
		}
		l.saw(l.fenceKey, fence, ttl, true)
		lease := &Lease{lock: l, token: token, identity: identity, fence: fence, ttl: ttl, sentAt: sentAt, app: app}
		if err := l.replicated("acquire", r); err != nil {
			return nil, errors.Join(err, lease.Release(context.WithoutCancel(ctx)))
		}
		return lease, nil
	case "held":
		held, err := heldFrom(l.name, reply)
		if err != nil {
			return nil, err
		}
		l.saw(l.fenceKey, held.Holder.Fence, held.Holder.Remaining, false)
		return nil, held
	}
	return nil, refusal(reply, fmt.Sprintf("acquire %q", l.name))
}

// refusal reads the replies by which an acquire script, of a lock or a
// semaphore, refuses without writing: foreign, denied and invalid. what
// names the call for the invalid case's message.
func refusal(reply []any, what string) error {
	switch kind(reply) {
	case "foreign":
		return foreignError(reply)
	case "denied":
		if len(reply) != 3 {
			return unexpected(reply)
		}
		command, _ := reply[1].(string)
		channel, _ := reply[2].(string)
		return &DeniedError{Command: command, Channel: channel}
	case "invalid":
		if len(reply) != 2 {
			return unexpected(reply)
		}
		why, _ := reply[1].(string)
		return fmt.Errorf("%w: %s: %s; nothing was written", ErrInvalid, what, why)
	}
	return unexpected(reply)
}

// heldFrom reads a 'held' reply: {'held', holder, fence, pttl} from
// acquire.lua, with ahead and head_ms after it from a queue's script.
func heldFrom(name string, reply []any) (*HeldError, error) {
	if len(reply) != 4 && len(reply) != 6 {
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
	held := &HeldError{Lock: name, Holder: Holder{Identity: who, Fence: fence, Remaining: time.Duration(pttl) * time.Millisecond}, headLeft: -1}
	if len(reply) == 6 {
		ahead, ok1 := reply[4].(int64)
		headMS, ok2 := reply[5].(int64)
		if !ok1 || !ok2 || ahead < 0 {
			return nil, unexpected(reply)
		}
		held.Ahead, held.queue = int(ahead), true
		if headMS >= 0 {
			held.headLeft = time.Duration(headMS) * time.Millisecond
		}
	}
	return held, nil
}

// Renew extends the lease to its TTL from now, while this owner still holds
// it, and raises the term record (TermKey) with it. A lease that is gone or
// someone else's gives a *LostError (errors.Is(err, ErrLost)). With
// Options.MinReplicas, a renew that too few replicas acknowledged gives a
// *NotReplicatedError (ErrNotReplicated): it does not count, though Redis
// may have applied it. Any other error is a transport or server error, and
// the lease may still be held. The call is bounded by ctx and by
// Options.AttemptTimeout.
func (s *Lease) Renew(ctx context.Context) error {
	l := s.lock
	r, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) (evalReply, error) {
		return l.eval(ctx, renewScript, []string{l.leaseKey, l.termKey, l.fenceKey},
			[]any{s.token, s.ttl.Milliseconds(), l.keyRules(s.app)})
	}, nil)
	if err != nil {
		return fmt.Errorf("redislock: renew %q: %w", l.name, err)
	}
	reply := r.reply
	switch kind(reply) {
	case "ok":
		l.saw(l.fenceKey, s.fence, s.ttl, true)
		return l.replicated("renew", r)
	case "lost":
		if len(reply) != 2 {
			return unexpected(reply)
		}
		who, _ := reply[1].(string)
		return &LostError{Lock: l.name, Holder: who}
	case "foreign":
		return foreignError(reply)
	}
	return unexpected(reply)
}

// Release deletes the lease if this owner still holds it, ends its term in
// the term record so the next candidate need not wait, and announces the
// release to waiters, all in one atomic step: to the head of the fair
// queue alone when fair waiters are queued, else on the release
// channel. If the lease expired or was
// taken over, nothing is deleted and the error is ErrNotHeld. The call is
// bounded by ctx and by Options.AttemptTimeout.
func (s *Lease) Release(ctx context.Context) error {
	l := s.lock
	n, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) (int64, error) {
		return l.release(ctx, s.token)
	}, nil)
	if err != nil {
		return fmt.Errorf("redislock: release %q: %w", l.name, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: lock %q, fence %d", ErrNotHeld, l.name, s.fence)
	}
	l.opts.Fences.ended(l.fenceKey, s.fence)
	return nil
}

func CheckTTL(ttl time.Duration) error {
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
