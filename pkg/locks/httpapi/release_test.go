//go:build unix

package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/locks"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/test/chaos"
)

// newProxiedLockEnv is newLockEnv with the sidecar's Redis calls through a
// fault proxy, each cut after 300ms; e.rdb still reaches Redis straight.
// wrap, when not nil, wraps the backend.
func newProxiedLockEnv(t *testing.T, lo httpapi.LocksOptions, wrap func(httpapi.LockBackend) httpapi.LockBackend) (*lockEnv, *chaos.Proxy) {
	t.Helper()
	srv := redistest.Start(t)
	p, err := chaos.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	var backend httpapi.LockBackend
	backend, err = httpapi.NewRedisLocks(c, httpapi.RedisLocksOptions{Identity: "sidecar-1", AttemptTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		backend = wrap(backend)
	}
	rec := &fakeRecorder{requests: map[string]int{}}
	lo.Recorder = rec
	locks, err := httpapi.NewLocks(backend, lo)
	if err != nil {
		t.Fatal(err)
	}
	url := serveAPI(t, api.Options{Routes: []api.Routes{locks}})
	return &lockEnv{url: url, rdb: srv.Client(), locks: locks, rec: rec, srv: srv}, p
}

// streamKind is a lock or a 1-permit semaphore as the stream tests take
// it, with a competitor and a reader of the holder's time left, both
// straight to Redis through the library.
type streamKind struct {
	name   string
	stream string // the stream's path, lease 3s
	delete string // DELETE's path without the token
	// compete waits until another client is granted the name.
	compete func(ctx context.Context, c redislock.Client) error
	// left is the holder's time left in Redis, 0 when nobody holds.
	left func(t *testing.T, c redislock.Client) time.Duration
}

var apiOpts = locks.Options{Lease: redislock.Options{Prefix: httpapi.DefaultLocksPrefix}, Identity: "competitor"}

var streamKinds = []streamKind{
	{
		name: "lock", stream: "/locks/x1/stream?lease=3s", delete: "/locks/x1",
		compete: func(ctx context.Context, c redislock.Client) error {
			m, err := locks.NewMutex(c, "x1", apiOpts)
			if err != nil {
				return err
			}
			_, err = m.TryLock(ctx, -1, time.Minute)
			return err
		},
		left: func(t *testing.T, c redislock.Client) time.Duration {
			m, err := locks.NewMutex(c, "x1", apiOpts)
			if err != nil {
				t.Fatal(err)
			}
			info, err := m.Inspect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return info.Remaining
		},
	},
	{
		name: "semaphore", stream: "/semaphores/x1/stream?permits=1&lease=3s", delete: "/semaphores/x1",
		compete: func(ctx context.Context, c redislock.Client) error {
			s, err := locks.NewSemaphore(c, "x1", 1, apiOpts)
			if err != nil {
				return err
			}
			_, err = s.TryLock(ctx, -1, time.Minute)
			return err
		},
		left: func(t *testing.T, c redislock.Client) time.Duration {
			s, err := locks.NewSemaphore(c, "x1", 1, apiOpts)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Inspect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(info.Holders) == 0 {
				return 0
			}
			return info.Holders[0].Remaining
		},
	},
}

// watchLost reads s's events from now on and closes the channel it
// returns at the first lost event, after setting *at to its time.
func watchLost(s *lockStream, at *time.Time) <-chan struct{} {
	told := make(chan struct{})
	go func() {
		for ev := range s.events {
			if ev.Event == "lost" {
				*at = time.Now()
				close(told)
				for range s.events {
				}
				return
			}
		}
	}()
	return told
}

func closedYet(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Regression (issue 17, item 1): a DELETE of a stream's lock that failed
// during a black hole answered 503, the stream went on sending keepalives
// and never sent lost, and once Redis was back another client was granted
// the lock. A stream is told lost before its DELETE's release is sent,
// whatever becomes of it; a retry then releases (or finds it released).
func TestAFailedDeleteOfAStream(t *testing.T) {
	for _, k := range streamKinds {
		t.Run(k.name+"/Redis stays away", func(t *testing.T) {
			e, p := newProxiedLockEnv(t, httpapi.LocksOptions{Keepalive: 100 * time.Millisecond}, nil)
			s := e.openStream(t, k.stream, http.StatusOK)
			ev := s.next(t, false)
			var toldAt, grantedAt time.Time
			told := watchLost(s, &toldAt)
			granted := make(chan bool, 1) // the stream had said lost by then
			go func() {
				err := k.compete(t.Context(), e.rdb)
				grantedAt = time.Now()
				granted <- err == nil && closedYet(told)
			}()
			p.SetBlackhole(true)
			e.call(t, http.MethodDelete, k.delete+"?token="+ev.Token, http.StatusServiceUnavailable)
			select {
			case ok := <-granted:
				if !ok {
					t.Fatal("another client was granted the name before the stream said lost")
				}
				t.Logf("FIGURE stream told lost %v before another client was granted the name", grantedAt.Sub(toldAt))
			case <-time.After(guard):
				t.Fatalf("no other client granted the name within %v", guard)
			}
		})
		t.Run(k.name+"/Redis back", func(t *testing.T) {
			e, p := newProxiedLockEnv(t, httpapi.LocksOptions{Keepalive: 100 * time.Millisecond}, nil)
			s := e.openStream(t, k.stream, http.StatusOK)
			ev := s.next(t, false)
			p.SetBlackhole(true)
			e.call(t, http.MethodDelete, k.delete+"?token="+ev.Token, http.StatusServiceUnavailable)
			// The stream was told before the release was sent.
			if ev := s.next(t, false); ev.Event != "lost" || !strings.Contains(ev.Error, "DELETE") {
				t.Errorf("event %+v; want lost, released by DELETE", ev)
			}
			s.ended(t)
			p.SetBlackhole(false)
			// A retry releases, or finds the lease released in the
			// background: 200 either way, and nothing left in Redis.
			e.call(t, http.MethodDelete, k.delete+"?token="+ev.Token, http.StatusOK)
			if left := k.left(t, e.rdb); left != 0 {
				t.Errorf("a lease with %v left is still in Redis after the DELETE", left)
			}
			eventually(t, "the place of the released stream", func() bool { return e.locks.Held() == 0 })
		})
	}
}

// Regression (issue 17, item 2): a lease-form lock whose DELETE failed on a
// transport error answered 409 "already unlocked" to every retry, and Redis
// kept the lease for its hour. DELETE is idempotent: a retry releases.
func TestAFailedDeleteCanBeRetried(t *testing.T) {
	e, p := newProxiedLockEnv(t, httpapi.LocksOptions{}, nil)
	a := e.acquire(t, "/locks/h?lease=1h")
	p.SetBlackhole(true)
	e.call(t, http.MethodDelete, "/locks/h?token="+a.Token, http.StatusServiceUnavailable)
	p.SetBlackhole(false)
	e.call(t, http.MethodPost, "/locks/h/renew?token="+a.Token, http.StatusOK)
	e.call(t, http.MethodDelete, "/locks/h?token="+a.Token, http.StatusOK)
	if e.exists(t, leaseKey("h")) {
		t.Error("lease still in Redis after the retried DELETE")
	}
	e.call(t, http.MethodDelete, "/locks/h?token="+a.Token, http.StatusOK)
}

// signalLog is a slog handler that signals each record whose message
// starts with prefix.
type signalLog struct {
	prefix string
	seen   chan<- struct{}
}

func (h signalLog) Enabled(context.Context, slog.Level) bool { return true }
func (h signalLog) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		select {
		case h.seen <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h signalLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalLog) WithGroup(string) slog.Handler      { return h }

// Regression (issue 17, item 3): with --locks-max-held 2, two streams
// closed by their clients while Redis was unreachable kept their places
// for ever, and every acquire answered 503. Each place comes back at the
// latest when its lease could have expired: at once when Redis is back,
// and when the stream's lease is lost when it is not.
func TestSlotsOfStreamsClosedDuringABlackHoleComeBack(t *testing.T) {
	const lease = 3 * time.Second
	for _, back := range []bool{true, false} {
		name := map[bool]string{true: "Redis back", false: "Redis stays away"}[back]
		t.Run(name, func(t *testing.T) {
			failed := make(chan struct{}, 2)
			e, p := newProxiedLockEnv(t, httpapi.LocksOptions{
				MaxHeld: 2, ReleaseTimeout: 300 * time.Millisecond,
				Logger: slog.New(signalLog{prefix: "release at the end of a stream failed", seen: failed}),
			}, nil)
			s1 := e.openStream(t, "/locks/a/stream?lease=3s", http.StatusOK)
			s2 := e.openStream(t, "/locks/b/stream?lease=3s", http.StatusOK)
			s1.next(t, false)
			s2.next(t, false)
			e.call(t, http.MethodPost, "/locks/c?lease=1s", http.StatusServiceUnavailable)
			p.SetBlackhole(true)
			closedAt := time.Now()
			s1.cancel()
			s2.cancel()
			for range 2 {
				select {
				case <-failed:
				case <-time.After(guard):
					t.Fatal("no failed release at the end of the streams")
				}
			}
			if back {
				p.SetBlackhole(false)
				eventually(t, "an acquire once Redis is back", func() bool {
					resp, _ := do(t, http.MethodPost, e.url+"/locks/c?lease=1s", "", "", nil)
					return resp.StatusCode == http.StatusOK
				})
				t.Logf("FIGURE slots back %v after the streams closed (lease %v)", time.Since(closedAt), lease)
				for _, n := range []string{"a", "b"} {
					e.awaitGone(t, leaseKey(n))
				}
				return
			}
			eventually(t, "the places of the closed streams", func() bool { return e.locks.Held() == 0 })
			if took := time.Since(closedAt); took > lease {
				t.Errorf("places back %v after the streams closed; want within the lease, %v", took, lease)
			}
		})
	}
}

// gatedBackend holds each renew until the test lets it through.
type gatedBackend struct {
	httpapi.LockBackend
	renewing chan struct{}
	proceed  chan struct{}
}

func (b gatedBackend) Acquire(ctx context.Context, r httpapi.Resource, p httpapi.AcquireParams) (httpapi.Holding, error) {
	h, err := b.LockBackend.Acquire(ctx, r, p)
	if err != nil {
		return nil, err
	}
	return gatedHolding{h, b}, nil
}

type gatedHolding struct {
	httpapi.Holding
	b gatedBackend
}

func (h gatedHolding) Renew(ctx context.Context) error {
	h.b.renewing <- struct{}{}
	<-h.b.proceed
	return h.Holding.Renew(ctx)
}

// Regression (issue 17, item 4): a renew whose reply came after the local
// validity ran out answered 200, while a concurrent request had pruned the
// entry: the next DELETE answered 409 and the renewed lease stayed. A 200
// on renew means the sidecar still knows the lock and can release it.
func TestARenewRacingThePrune(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	gate := gatedBackend{renewing: make(chan struct{}), proceed: make(chan struct{})}
	e, _ := newProxiedLockEnv(t, httpapi.LocksOptions{Now: clock.Now}, func(b httpapi.LockBackend) httpapi.LockBackend {
		gate.LockBackend = b
		return gate
	})
	a := e.acquire(t, "/locks/r?lease=1m")
	renewed := make(chan int, 1)
	go func() {
		resp, _ := do(t, http.MethodPost, e.url+"/locks/r/renew?token="+a.Token, "", "", nil)
		renewed <- resp.StatusCode
	}()
	<-gate.renewing
	// The local validity runs out while the renew is in flight, and a
	// concurrent request prunes.
	clock.Add(2 * time.Minute)
	e.locks.Held()
	close(gate.proceed)
	if code := <-renewed; code != http.StatusOK {
		t.Fatalf("renew = %d; want 200", code)
	}
	if n := e.locks.Held(); n != 1 {
		t.Errorf("Held() = %d after a renew that answered 200; want 1", n)
	}
	e.call(t, http.MethodDelete, "/locks/r?token="+a.Token, http.StatusOK)
	if e.exists(t, leaseKey("r")) {
		t.Error("lease still in Redis after the DELETE")
	}
}
