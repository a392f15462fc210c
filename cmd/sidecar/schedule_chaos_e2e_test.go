//go:build unix

package main

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
)

// TestScheduleRunsAWindowWhenRedisReturnsInIt: Redis refuses the
// replica's calls at a window's start (a fast error, as through a proxy
// whose Redis is down, or from a Redis still loading its data) and serves
// again 300ms later: the failed claim is tried again within a tenth of
// the window, so the window still runs. With a retry of a second it was
// missed (TestChaosSchedule found it).
func TestScheduleRunsAWindowWhenRedisReturnsInIt(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client()
	if err := admin.Do(t.Context(), "ACL", "SETUSER", "admin", "on", ">pw", "+@all", "~*", "&*").Err(); err != nil {
		t.Fatal(err)
	}
	admin = redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "admin", Password: "pw"})
	t.Cleanup(func() { _ = admin.Close() })
	acl := func(rule string) {
		if err := admin.Do(t.Context(), "ACL", "SETUSER", "default", rule).Err(); err != nil {
			t.Fatal(err)
		}
	}
	log := newJobLog(t)
	startScheduled(t, srv.Addr(), "refused", "a", "@every 1s", runScript(log, "true"))
	w0, _ := time.Parse(time.RFC3339, log.lines(t, "run", 1)[0][1])
	target := w0.Add(3 * time.Second)
	time.Sleep(time.Until(target.Add(-100 * time.Millisecond)))
	acl("-@all")
	time.Sleep(time.Until(target.Add(300 * time.Millisecond)))
	acl("+@all")
	back := time.Since(target)
	// Until a window two after target runs: target's turn has passed.
	_, runs := log.windowRuns(t, target.Add(2*time.Second).Sub(w0))
	if len(runs[target]) != 1 {
		t.Errorf("window %s (Redis back %v into it) ran %d times, want once", target.Format(time.RFC3339), back.Round(time.Millisecond), len(runs[target]))
	}
}
