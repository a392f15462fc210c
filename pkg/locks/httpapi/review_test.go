//go:build unix

package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// Regression (review of issue 17, item 4): a renew whose reply was lost
// after Redis ran it (the proxy delays each way past the 300ms attempt
// bound) answered 503, and the registry kept the old validity. Once that
// passed, the entry was pruned: the next DELETE answered 409, and the
// renewed lease stayed in Redis for its whole lease time with nobody able
// to release it. A renew that may have run counts as one for the validity.
func TestARenewWhoseReplyWasLostKeepsTheLockReleasable(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	e, p := newProxiedLockEnv(t, httpapi.LocksOptions{Now: clock.Now}, nil)
	a := e.acquire(t, "/locks/r?lease=1m")
	// A first renew loads the script: the next one is one round trip.
	e.call(t, http.MethodPost, "/locks/r/renew?token="+a.Token, http.StatusOK)
	clock.Add(30 * time.Second)
	// Redis's clock moves with the fake one: 30s of the lease are gone.
	if err := e.rdb.PExpire(t.Context(), leaseKey("r"), 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	p.SetLatency(250 * time.Millisecond)
	e.call(t, http.MethodPost, "/locks/r/renew?token="+a.Token, http.StatusServiceUnavailable)
	p.SetLatency(0)
	if left := e.rdb.PTTL(t.Context(), leaseKey("r")).Val(); left < 45*time.Second {
		t.Fatalf("PTTL %v after the renew; want about 1m (the renew ran in Redis)", left)
	}
	// Past the acquire's validity, within the renew's.
	clock.Add(31 * time.Second)
	e.call(t, http.MethodDelete, "/locks/r?token="+a.Token, http.StatusOK)
	if e.exists(t, leaseKey("r")) {
		t.Error("lease still in Redis after the DELETE")
	}
}

// Regression (review of issue 17, item 1): a DELETE of a stream's holding,
// and the sidecar's shutdown (ReleaseAll), released the lease in Redis
// first and ended the stream with lost only once the release's reply had
// come back. A waiter of another client is granted the name the moment the
// release runs in Redis: with 100ms each way to Redis, it held the name
// about 100ms before the stream said lost, with no fault at all. The
// stream is told before its lease is released.
func TestAStreamIsToldBeforeItsReleaseRuns(t *testing.T) {
	channels := map[string]string{
		"lock":      httpapi.DefaultLocksPrefix + ":{x1}:released",
		"semaphore": httpapi.DefaultLocksPrefix + ":{x1}:sem:released",
	}
	warm := map[string]string{"lock": "/locks/w?lease=1m", "semaphore": "/semaphores/w?permits=1&lease=1m"}
	ends := map[string]func(t *testing.T, e *lockEnv, token string, k streamKind){
		"DELETE": func(t *testing.T, e *lockEnv, token string, k streamKind) {
			e.call(t, http.MethodDelete, k.delete+"?token="+token, http.StatusOK)
		},
		"ReleaseAll": func(t *testing.T, e *lockEnv, _ string, _ streamKind) {
			if n, err := e.locks.ReleaseAll(t.Context()); n != 1 || err != nil {
				t.Errorf("ReleaseAll = %d, %v; want 1, nil", n, err)
			}
		},
	}
	for _, k := range streamKinds {
		for end, do := range ends {
			t.Run(k.name+"/"+end, func(t *testing.T) {
				e, p := newProxiedLockEnv(t, httpapi.LocksOptions{Keepalive: 100 * time.Millisecond}, nil)
				// Load the release script: a release is then one round trip.
				w := e.acquire(t, warm[k.name])
				e.call(t, http.MethodDelete, strings.Split(warm[k.name], "?")[0]+"?token="+w.Token, http.StatusOK)
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
				e.awaitSubscribers(t, channels[k.name], 1)
				p.SetLatency(100 * time.Millisecond)
				do(t, e, ev.Token, k)
				select {
				case ok := <-granted:
					if !ok {
						t.Fatal("another client was granted the name before the stream said lost")
					}
					t.Logf("stream told lost %v before another client was granted the name", grantedAt.Sub(toldAt))
				case <-time.After(guard):
					t.Fatalf("no other client granted the name within %v", guard)
				}
			})
		}
	}
}

// Regression (review of issue 17, item 2): a DELETE whose release ran in
// Redis though its reply was lost (latency past the 300ms attempt bound)
// answers 503; its retry found the lease gone and answered 409, though the
// lease could not have expired yet. DELETE is idempotent: the retry
// answers 200, and nothing is left in Redis.
func TestARetriedDeleteAfterALostReplyAnswers200(t *testing.T) {
	for _, path := range []string{"/locks/d", "/semaphores/d"} {
		t.Run(path, func(t *testing.T) {
			e, p := newProxiedLockEnv(t, httpapi.LocksOptions{}, nil)
			q := "?lease=1m"
			if strings.HasPrefix(path, "/semaphores") {
				q += "&permits=1"
			}
			// Load the release script: a release is then one round trip.
			w := e.acquire(t, strings.Replace(path, "/d", "/w", 1)+q)
			e.call(t, http.MethodDelete, strings.Replace(path, "/d", "/w", 1)+"?token="+w.Token, http.StatusOK)
			a := e.acquire(t, path+q)
			p.SetLatency(250 * time.Millisecond)
			e.call(t, http.MethodDelete, path+"?token="+a.Token, http.StatusServiceUnavailable)
			p.SetLatency(0)
			e.call(t, http.MethodDelete, path+"?token="+a.Token, http.StatusOK)
			// A lock's lease, or a semaphore's permits (a sorted set).
			held := e.exists(t, leaseKey("d")) || e.rdb.ZCard(t.Context(), httpapi.DefaultLocksPrefix+":{d}:sem:permits").Val() > 0
			if held {
				t.Error("still held in Redis after the retried DELETE")
			}
		})
	}
}
