//go:build unix

package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
)

// Regression (review of issue 17, item 4): a renew whose reply was lost
// after Redis ran it (the proxy delays each way past the 300ms attempt
// bound) answered 503, and the registry kept the old validity. Once that
// passed, the entry was pruned: the next DELETE answered 409, and the
// renewed lease stayed in Redis for its whole lease time with nobody able
// to release it. A renew that may have run counts as one for the validity.
func TestARenewWhoseReplyWasLostKeepsTheLockReleasable(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	e, p := newProxiedLockEnv(t, api.LocksOptions{Now: clock.Now}, nil)
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
