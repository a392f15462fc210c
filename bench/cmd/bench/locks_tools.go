package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
	"github.com/baton-dev/baton/pkg/redislock"
)

// appLockLease is the lease of the application locks with a lease time
// (the library's TryLock with leaseTime > 0, plain or fair, and the
// sidecar's POST /locks): the sidecar's default. Nothing in the step waits
// for it.
const appLockLease = 30 * time.Second

// batonLockMode is which of the library's mutexes a batonLockTool takes.
type batonLockMode int

const (
	modeLease    batonLockMode = iota // TryLock with leaseTime > 0: no watchdog
	modeWatchdog                      // TryLock with leaseTime 0: the watchdog renews
	modeFair                          // TryLock on a fair Mutex with leaseTime > 0
)

// batonLockTool is pkg/locks's Mutex, one *Mutex and one Redis client per
// candidate, all on one name. Waiting candidates wait as long as ctx
// allows (waitTime < 0).
type batonLockTool struct {
	clientSet
	mutexes []*locks.Mutex
	mode    batonLockMode
	release string // the release channel plain waiters subscribe to
}

// batonLocksPrefix is the key prefix of batonLockTool's mutexes.
const batonLocksPrefix = "bench-locks"

func newBatonLockTool(e *env, name string, n int, mode batonLockMode) (*batonLockTool, error) {
	t := &batonLockTool{clientSet: newClientSetOf(n, e.newLockClient), mode: mode, release: releaseChannel(batonLocksPrefix, name)}
	for i, c := range t.clients {
		m, err := locks.NewMutex(c, name, locks.Options{
			Lease:    redislock.Options{Prefix: batonLocksPrefix},
			Identity: fmt.Sprintf("cand-%d", i),
			Fair:     mode == modeFair,
		})
		if err != nil {
			t.close()
			return nil, err
		}
		t.mutexes = append(t.mutexes, m)
	}
	return t, nil
}

func (t *batonLockTool) channel() string {
	if t.mode == modeFair {
		return "" // each fair waiter has its own wake channel
	}
	return t.release
}

func (t *batonLockTool) maxPause() time.Duration { return time.Millisecond }

func (t *batonLockTool) acquire(ctx context.Context, who int) (held, time.Time, error) {
	lease := appLockLease // modeLease and modeFair
	if t.mode == modeWatchdog {
		lease = 0
	}
	m, err := t.mutexes[who].TryLock(ctx, -1, lease)
	at := time.Now()
	if err != nil {
		return nil, time.Time{}, err
	}
	return batonHeld{m}, at, nil
}

type batonHeld struct{ m *locks.Held }

func (h batonHeld) release(ctx context.Context) error { return h.m.Release(ctx) }
func (h batonHeld) refresh(ctx context.Context) error { return h.m.Renew(ctx) }

// redisClient is candidate who's Redis client, for hooks of the lock
// step's own.
func (t *clientSet) redisClient(who int) *redis.Client { return t.clients[who] }

// setFloorTool is the floor of an uncontended application lock with go-redis:
// SET key token NX PX to take it, and a Lua compare-and-DEL to release it,
// nothing else (no fence, no watchdog, no waiting, no foreign-value check).
// Its acquire never waits: it is for the uncontended runs only.
type setFloorTool struct {
	clientSet
	key string
	seq atomic.Uint64
}

// floorRelease deletes the key only while it still holds the owner's token.
var floorRelease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

var errFloorHeld = errors.New("bench: floor lock is held (the SET NX floor does not wait)")

func newSetFloorTool(e *env, name string, n int) *setFloorTool {
	return &setFloorTool{clientSet: newClientSet(e, n), key: "floor-set:" + name}
}

func (f *setFloorTool) channel() string         { return "" }
func (f *setFloorTool) maxPause() time.Duration { return 0 }

func (f *setFloorTool) acquire(ctx context.Context, who int) (held, time.Time, error) {
	c := f.clients[who]
	token := strconv.FormatUint(f.seq.Add(1), 10) + "-" + strconv.Itoa(who)
	ok, err := c.SetNX(ctx, f.key, token, appLockLease).Result()
	at := time.Now()
	switch {
	case err != nil:
		return nil, time.Time{}, err
	case !ok:
		return nil, time.Time{}, errFloorHeld
	}
	return setFloorHeld{f, c, token}, at, nil
}

type setFloorHeld struct {
	f     *setFloorTool
	c     *redis.Client
	token string
}

func (h setFloorHeld) release(ctx context.Context) error {
	n, err := floorRelease.Run(ctx, h.c, []string{h.f.key}, h.token).Int()
	if err == nil && n != 1 {
		err = errors.New("bench: floor release: not held")
	}
	return err
}

func (h setFloorHeld) refresh(ctx context.Context) error {
	return h.c.PExpire(ctx, h.f.key, appLockLease).Err()
}

// sidecarLockTool is the sidecar's lock API: POST /locks/{name}?lease=30s
// to take the lock (one try: the runs that use it are uncontended) and
// DELETE /locks/{name}?token= to release it, over keep-alive HTTP/1.1.
type sidecarLockTool struct {
	base, name string
	http       *http.Client
	noCounter  *cmdCounter // the sidecar's Redis commands are not the bench's to count
}

func newSidecarLockTool(apiURL, name string, client *http.Client) *sidecarLockTool {
	return &sidecarLockTool{base: apiURL + "/locks/" + url.PathEscape(name), name: name, http: client, noCounter: newCmdCounter()}
}

func (s *sidecarLockTool) channel() string         { return "" }
func (s *sidecarLockTool) maxPause() time.Duration { return 0 }
func (s *sidecarLockTool) counter(int) *cmdCounter { return s.noCounter }
func (s *sidecarLockTool) close()                  {}
func (s *sidecarLockTool) call(ctx context.Context, method, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

func (s *sidecarLockTool) acquire(ctx context.Context, _ int) (held, time.Time, error) {
	var b httpapi.LockBody
	if err := s.call(ctx, http.MethodPost, s.base+"?lease="+appLockLease.String(), &b); err != nil {
		return nil, time.Time{}, err
	}
	at := time.Now()
	if b.Token == "" {
		return nil, time.Time{}, fmt.Errorf("POST %s: no token in the answer", s.base)
	}
	return sidecarHeld{s, b.Token}, at, nil
}

type sidecarHeld struct {
	s     *sidecarLockTool
	token string
}

func (h sidecarHeld) release(ctx context.Context) error {
	var b httpapi.LockReleasedBody
	if err := h.s.call(ctx, http.MethodDelete, h.s.base+"?token="+url.QueryEscape(h.token), &b); err != nil {
		return err
	}
	if !b.Released {
		return fmt.Errorf("DELETE %s: released false", h.s.base)
	}
	return nil
}

func (h sidecarHeld) refresh(ctx context.Context) error {
	var b httpapi.LockBody
	return h.s.call(ctx, http.MethodPost, h.s.base+"/renew?token="+url.QueryEscape(h.token), &b)
}

// enqueueStamp is a go-redis hook that brackets, per acquisition, the first
// command the client sends after arm: its send time and its reply time.
// That command is a fair waiter's enqueue, and every other tool's first
// try: Redis ran it between the two stamps, so two acquisitions whose
// brackets do not overlap arrived in a known order.
type enqueueStamp struct {
	mu            sync.Mutex
	armed         bool
	sent, replied time.Time
}

// arm starts a new acquisition.
func (s *enqueueStamp) arm() {
	s.mu.Lock()
	s.armed, s.sent, s.replied = true, time.Time{}, time.Time{}
	s.mu.Unlock()
}

// take returns the bracket of the acquisition's first command; ok is
// false when it sent none.
func (s *enqueueStamp) take() (sent, replied time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	return s.sent, s.replied, !s.replied.IsZero()
}

// first reports whether the command about to be sent is the first since
// arm, and claims it.
func (s *enqueueStamp) first() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed || !s.sent.IsZero() {
		return false
	}
	s.sent = time.Now()
	return true
}

func (s *enqueueStamp) stampReply() {
	t := time.Now()
	s.mu.Lock()
	s.replied = t
	s.mu.Unlock()
}

func (s *enqueueStamp) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *enqueueStamp) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !s.first() {
			return next(ctx, cmd)
		}
		err := next(ctx, cmd)
		s.stampReply()
		return err
	}
}

func (s *enqueueStamp) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !s.first() {
			return next(ctx, cmds)
		}
		err := next(ctx, cmds)
		s.stampReply()
		return err
	}
}

var (
	_ redis.Hook = (*enqueueStamp)(nil)
	_ lockTool   = (*batonLockTool)(nil)
	_ lockTool   = (*setFloorTool)(nil)
	_ lockTool   = (*sidecarLockTool)(nil)
)
