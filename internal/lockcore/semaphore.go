package lockcore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed fence.lua
	fenceOnlySource string
	//go:embed read.lua
	readSource string
	// fenceSource is fence.lua with the typed read (read.lua) its counter
	// read uses: the prelude of every script that takes a fence.
	fenceSource = readSource + fenceOnlySource
	//go:embed semaphore_acquire.lua
	semAcquireSource string
	//go:embed semaphore_release.lua
	semReleaseSource string
	//go:embed semaphore_renew.lua
	semRenewSource string
	//go:embed semaphore_inspect.lua
	semInspectSource string
	//go:embed semaphore_keys.lua
	semKeysSource string
	// semKeysPrelude is the rules of the semaphore's keys, for every
	// script that writes them.
	semKeysPrelude = fenceSource + semKeysSource

	semAcquireScript = redis.NewScript(queuePrelude + semKeysPrelude + semAcquireSource)
	semReleaseScript = redis.NewScript(queuePrelude + semKeysPrelude + semReleaseSource)
	semRenewScript   = redis.NewScript(semKeysPrelude + semRenewSource)
	semInspectScript = redis.NewScript(semInspectSource)
)

// MaxPermits is the largest number of permits of a Semaphore. Each acquire
// and Inspect read the permits held, so the bound keeps a script short.
const MaxPermits = 10000

// SemaphoreOptions tunes a Semaphore. The zero value is valid.
type SemaphoreOptions struct {
	// Options are the lock's, with the same defaults: Prefix, Identity,
	// WatchdogTimeout (the lease of a permit taken with leaseTime 0),
	// QueueHeartbeat (fair mode), Now, AttemptTimeout, SubscribeTimeout.
	// MinReplicas is not supported by the semaphore and must be 0.
	Options
	// Fair makes waiters queue in arrival order, with heartbeated entries,
	// as a fair Mutex's do; a release then wakes only the waiter whose turn
	// it is. Default false: every waiter is woken by each release message
	// and the first try wins.
	Fair bool
}

// Semaphore is the store protocol of a counting semaphore: at most its
// number of permits held at once, each with its own lease, owner token and
// fence, in keys of its own (<prefix>:{N}:sem:..., see pkg/locks). The
// first user's number of permits is recorded; another number gives a
// *PermitsError and writes nothing. Its keys expire Options.KeyGrace after
// the furthest permit. It is safe for concurrent use.
type Semaphore struct {
	lock    *Lock // validated options and the client; its own keys are not used
	permits int
	fair    bool

	permitsKey, holdersKey, fenceKey, countKey string
	queueKey, deadlinesKey                     string
	channel, wakePrefix                        string
}

// NewSemaphore returns a semaphore of permits permits (1 to MaxPermits)
// named name on client. It validates its arguments as New does but makes no
// Redis call.
func NewSemaphore(client Client, name string, permits int, opts SemaphoreOptions) (*Semaphore, error) {
	if permits < 1 || permits > MaxPermits {
		return nil, fmt.Errorf("%w: permits %d must be from 1 to %d", ErrInvalid, permits, MaxPermits)
	}
	if opts.MinReplicas != 0 {
		return nil, invalid("MinReplicas", "must be 0: the semaphore does not support it")
	}
	l, err := New(client, name, opts.Options)
	if err != nil {
		return nil, err
	}
	tag := l.opts.Prefix + ":{" + name + "}:sem:"
	return &Semaphore{
		lock: l, permits: permits, fair: opts.Fair,
		permitsKey: tag + "permits", holdersKey: tag + "holders", fenceKey: tag + "fence", countKey: tag + "permit-count",
		queueKey: tag + "queue", deadlinesKey: tag + "queue-deadlines",
		channel: tag + "released", wakePrefix: tag + "wake:",
	}, nil
}

// Name is the semaphore's name.
func (s *Semaphore) Name() string { return s.lock.name }

// Permits is the number of permits.
func (s *Semaphore) Permits() int { return s.permits }

// Keys returns the semaphore's keys and channels, for operators and
// tests; see Semaphore.
func (s *Semaphore) Keys() (permits, holders, fence, queue, deadlines, channel, wakePrefix string) {
	return s.permitsKey, s.holdersKey, s.fenceKey, s.queueKey, s.deadlinesKey, s.channel, s.wakePrefix
}

// CountKey returns the key that records the semaphore's number of permits.
func (s *Semaphore) CountKey() string { return s.countKey }

// TryOnce is a single try for one permit of ttl: no queue entry.
func (s *Semaphore) TryOnce(ctx context.Context, ttl time.Duration) (*Permit, error) {
	if err := CheckTTL(ttl); err != nil {
		return nil, err
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	return s.acquireAs(ctx, token, ttl, false)
}

// Opts are the semaphore's options, with their defaults filled in.
func (s *Semaphore) Opts() Options { return s.lock.opts }

// Wait waits for a permit of ttl under one owner token, the name of the queue entry
// and of the wake channel in fair mode.
func (s *Semaphore) Wait(ctx context.Context, ttl time.Duration, onHeld func(*HeldError)) (*Permit, error) {
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	// A plain waiter hears its wake channel too: its try joins a fair
	// queue it finds (see Lock.acquireWaiting), and then waits in it.
	channels := []string{s.wakePrefix + token}
	if !s.fair {
		channels = append(channels, s.channel)
	}
	opts := s.lock.opts
	var (
		hb      *member // the queue entry's refresher, once queued
		watcher *Watcher
	)
	if s.fair {
		hb = joinRefresher(s.lock.client, s.queueKey, s.deadlinesKey, token, opts.QueueHeartbeat, opts.AttemptTimeout)
	}
	defer func() {
		if hb != nil {
			hb.leave()
		}
	}()
	var p *Permit
	err = awaitTurn(ctx,
		func(ctx context.Context) (*Watcher, error) {
			w, err := subscribe(ctx, s.lock.client, s.lock.opts.SubscribeTimeout, s.lock.name, channels...)
			if err == nil {
				watcher = w
				if hb != nil {
					hb.watch(w)
				}
			}
			return w, err
		},
		func(ctx context.Context) (time.Duration, bool, error) {
			got, err := s.acquireAs(ctx, token, ttl, true)
			var held *semHeld
			if !errors.As(err, &held) {
				p = got
				return 0, true, err
			}
			onHeld(held.HeldError)
			if !s.fair && held.headLeft < 0 { // not queued
				return held.Holder.Remaining + wakeSlack, false, nil
			}
			if hb == nil { // a plain waiter that joined a queue
				hb = joinRefresher(s.lock.client, s.queueKey, s.deadlinesKey, token, opts.QueueHeartbeat, opts.AttemptTimeout)
				if watcher != nil {
					hb.watch(watcher)
				}
			}
			// The places ahead that are not free are what this waiter
			// waits for: queueWait as for a lock, with the free places
			// counted out.
			return queueWait(hb, opts.QueueHeartbeat, held.Ahead, held.free, held.Holder.Remaining, held.headLeft), false, nil
		})
	if hb != nil {
		hb.leave()
		if p == nil {
			leave(ctx, func() { s.releaseOrphan(token) })
		}
	}
	return p, err
}

// semHeld is a *HeldError with the number of free permits, which a fair
// waiter needs to know when to try.
type semHeld struct {
	*HeldError
	free int
}

func (e *semHeld) Unwrap() error { return e.HeldError }

// acquireAs is one try under token (semaphore_acquire.lua).
func (s *Semaphore) acquireAs(ctx context.Context, token string, ttl time.Duration, enqueue bool) (*Permit, error) {
	l := s.lock
	sentAt := l.opts.Now()
	keys := []string{s.permitsKey, s.holdersKey, s.fenceKey, s.queueKey, s.deadlinesKey, s.countKey}
	seen, seenMS := l.recall(s.fenceKey, true, ttl)
	args := []any{token, l.opts.Identity, ttl.Milliseconds(), s.permits, s.channel,
		seen, flag(s.fair), semaphoreMode(s.fair, enqueue), s.wakePrefix,
		entryLifetime(l.opts).Milliseconds(), l.keyRules(true), seenMS}
	reply, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) ([]any, error) {
		return semAcquireScript.Run(ctx, l.client, keys, args...).Slice()
	}, func([]any, error) { s.releaseOrphan(token) })
	if err != nil {
		if MaybeSent(err) {
			go s.releaseOrphan(token)
		}
		return nil, fmt.Errorf("redislock: acquire semaphore %q: %w", l.name, err)
	}
	switch kind(reply) {
	case "ok":
		fence, err := replyUint(reply, 1)
		if err != nil {
			go s.releaseOrphan(token)
			return nil, err
		}
		l.saw(s.fenceKey, fence, ttl, true)
		return &Permit{sem: s, token: token, identity: l.opts.Identity, fence: fence, ttl: ttl, sentAt: sentAt}, nil
	case "held":
		if len(reply) != 7 {
			return nil, unexpected(reply)
		}
		held, err := heldFrom(l.name, reply[:6])
		if err != nil {
			return nil, err
		}
		free, ok := reply[6].(int64)
		if !ok {
			return nil, unexpected(reply)
		}
		l.saw(s.fenceKey, held.Holder.Fence, held.Holder.Remaining, false)
		return nil, &semHeld{HeldError: held, free: int(free)}
	case "permits":
		recorded, err := replyUint(reply, 1)
		if err != nil || len(reply) != 2 {
			return nil, unexpected(reply)
		}
		return nil, &PermitsError{Semaphore: l.name, Recorded: int(recorded), Asked: s.permits}
	}
	return nil, refusal(reply, fmt.Sprintf("acquire semaphore %q", l.name))
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// release runs semaphore_release.lua for token: 1 when it gave a permit
// back. It also removes token's queue entry.
func (s *Semaphore) release(ctx context.Context, token string) (int64, error) {
	keys := []string{s.permitsKey, s.holdersKey, s.queueKey, s.deadlinesKey, s.fenceKey, s.countKey}
	reply, err := semReleaseScript.Run(ctx, s.lock.client, keys, token, s.channel, s.wakePrefix, s.permits, flag(s.fair),
		s.lock.keyRules(true)).Result()
	if err != nil {
		return 0, err
	}
	switch r := reply.(type) {
	case int64:
		return r, nil
	case []any:
		if kind(r) == "foreign" {
			return 0, foreignError(r)
		}
	}
	return 0, fmt.Errorf("%w: %v", ErrUnexpectedReply, reply)
}

// renew runs semaphore_renew.lua for token, and remembers the permit's
// new end (see FenceMemory).
func (s *Semaphore) renew(ctx context.Context, token string, fence uint64, ttl time.Duration) ([]any, error) {
	l := s.lock
	keys := []string{s.permitsKey, s.holdersKey, s.fenceKey, s.countKey}
	reply, err := semRenewScript.Run(ctx, l.client, keys, token, ttl.Milliseconds(), l.keyRules(true)).Slice()
	if err == nil && kind(reply) == "ok" {
		l.saw(s.fenceKey, fence, ttl, true)
	}
	return reply, err
}

// releaseOrphan gives back the permit, and removes the queue entry, that a
// try under token may have taken or made although its caller got no reply
// or gave up; see Lock.releaseOrphan.
func (s *Semaphore) releaseOrphan(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.lock.opts.AttemptTimeout)
	defer cancel()
	_, _ = s.release(ctx, token)
}

// SemaphoreInfo is what Semaphore.Inspect saw.
type SemaphoreInfo struct {
	// Permits is the semaphore's number of permits (this client's).
	Permits int
	// Holders are the live permits, the one that expires first first.
	Holders []PermitInfo
	// Queue is the number of live fair-queue entries.
	Queue int
}

// PermitInfo is one live permit.
type PermitInfo struct {
	Identity  string
	Fence     uint64
	Remaining time.Duration
}

// Inspect reads the live permits and the queue in one read-only script.
func (s *Semaphore) Inspect(ctx context.Context) (SemaphoreInfo, error) {
	l := s.lock
	keys := []string{s.permitsKey, s.holdersKey, s.queueKey, s.deadlinesKey}
	reply, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) ([]any, error) {
		return semInspectScript.Run(ctx, l.client, keys).Slice()
	}, nil)
	if err != nil {
		return SemaphoreInfo{}, fmt.Errorf("redislock: inspect semaphore %q: %w", l.name, err)
	}
	switch kind(reply) {
	case "ok":
		queued, ok := reply[1].(int64)
		if len(reply) < 2 || !ok || (len(reply)-2)%3 != 0 {
			return SemaphoreInfo{}, unexpected(reply)
		}
		info := SemaphoreInfo{Permits: s.permits, Queue: int(queued), Holders: []PermitInfo{}}
		for i := 2; i < len(reply); i += 3 {
			who, _ := reply[i].(string)
			fence, err := replyUint(reply, i+1)
			if err != nil {
				return SemaphoreInfo{}, err
			}
			ms, ok := reply[i+2].(int64)
			if !ok {
				return SemaphoreInfo{}, unexpected(reply)
			}
			info.Holders = append(info.Holders, PermitInfo{Identity: who, Fence: fence, Remaining: time.Duration(ms) * time.Millisecond})
		}
		return info, nil
	case "foreign":
		return SemaphoreInfo{}, foreignError(reply)
	}
	return SemaphoreInfo{}, unexpected(reply)
}
