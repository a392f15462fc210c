//go:build linux

package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Each test injects one kind of fault into three sidecars on one Redis and
// then proves, from the recorded history, mutual exclusion, fence order,
// recovery within the bound, and that no replica is stuck.

func TestKillLeader(t *testing.T) {
	e := newEnv(t, 3, time.Second)
	e.leader(10 * time.Second)
	for range 3 {
		if err := e.faultKill(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.findLeader(); err != nil {
			t.Fatal(err)
		}
	}
	e.assertLive(5*e.ttl + slack)
	e.finish()
}

func TestStopLeaderLongerThanTTL(t *testing.T) {
	e := newEnv(t, 3, time.Second)
	e.leader(10 * time.Second)
	for range 2 {
		if err := e.faultStop(5 * e.ttl / 2); err != nil {
			t.Fatal(err)
		}
	}
	e.assertLive(5*e.ttl + slack)
	e.finish()
}

func TestTermLeaderHandsOverAtOnce(t *testing.T) {
	// A long TTL: a takeover by expiry would take seconds, a handover by
	// release takes milliseconds.
	e := newEnv(t, 3, 5*time.Second)
	e.leader(10 * time.Second)
	var worst time.Duration
	for range 3 {
		gap, err := e.faultTerm()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("SIGTERM handover gap: %v", gap)
		worst = max(worst, gap)
	}
	if worst > time.Second {
		t.Errorf("SIGTERM handover took %v; want milliseconds, not the TTL", worst)
	}
	e.assertLive(3*e.ttl + slack)
	e.finish()
}

func TestRedisRestartWithoutPersistence(t *testing.T) {
	e := newEnv(t, 3, time.Second)
	e.leader(10 * time.Second)
	for _, down := range []time.Duration{200 * time.Millisecond, 3 * e.ttl / 2} {
		e.faultRedisRestart(down)
		if _, err := e.findLeader(); err != nil {
			t.Fatal(err)
		}
	}
	e.assertLive(5*e.ttl + slack)
	e.finish()
}

func TestFlushAll(t *testing.T) {
	e := newEnv(t, 3, time.Second)
	c := e.redisClient()
	l := e.leader(10 * time.Second)
	for range 3 {
		_, fence, _ := e.leaderFence(l)
		if err := e.faultFlushAll(c); err != nil {
			t.Fatal(err)
		}
		var err error
		if l, _, err = e.awaitNewTerm(fence, e.ttl+slack); err != nil {
			t.Fatal(err)
		}
	}
	e.assertLive(5*e.ttl + slack)
	e.finish()
}

// TestLatencyAndBlackhole puts latency or a blackhole between the leader and
// Redis: shorter than the renew deadline the leader keeps its term, longer
// it steps down and another replica takes over. A round trip must also fit
// in one renew attempt (2*RetryPeriod), or every attempt is cut short.
func TestLatencyAndBlackhole(t *testing.T) {
	const ttl = 2 * time.Second // renew every 667ms, attempt 333ms, deadline 1.33s
	tests := []struct {
		name  string
		keeps bool
		fault func(e *env, n *node)
	}{
		{"latency shorter than the renew deadline", true, func(e *env, n *node) {
			// A 200ms round trip: well inside the 333ms of an attempt.
			e.faultLatency("latency short", n, 100*time.Millisecond, 3*time.Second)
		}},
		{"latency longer than the renew deadline", false, func(e *env, n *node) {
			e.faultLatency("latency long", n, 1500*time.Millisecond, 4*time.Second)
		}},
		{"blackhole shorter than the renew deadline", true, func(e *env, n *node) {
			e.faultBlackhole("blackhole short", n, 400*time.Millisecond)
		}},
		{"blackhole longer than the renew deadline", false, func(e *env, n *node) {
			e.faultBlackhole("blackhole long", n, 4*time.Second)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 3, ttl)
			l := e.leader(10 * time.Second)
			_, fence, _ := e.leaderFence(l)
			tc.fault(e, l)
			now, nowFence, _ := e.leaderFence(l)
			kept := e.hist.Open()[now] == fence && nowFence == fence
			switch {
			case tc.keeps && !kept:
				t.Errorf("%s lost its term %d during a fault shorter than the renew deadline", l.name, fence)
			case !tc.keeps:
				if kept {
					t.Errorf("%s kept its term %d through a fault longer than the renew deadline", l.name, fence)
				}
				if _, _, err := e.awaitNewTerm(fence, 2*ttl+slack); err != nil {
					t.Error(err)
				}
			}
			e.assertLive(5*ttl + slack)
			e.finish()
		})
	}
}

func TestClientPauseLongerThanTTL(t *testing.T) {
	e := newEnv(t, 3, time.Second)
	c := e.redisClient()
	e.leader(10 * time.Second)
	if err := e.faultPause(c, 5*e.ttl/2); err != nil {
		t.Fatal(err)
	}
	e.assertLive(5*e.ttl + slack)
	e.finish()
}

func TestPubsubKilledBeforeRelease(t *testing.T) {
	e := newEnv(t, 3, 2*time.Second)
	c := e.redisClient()
	// Two rounds: each resigned replica sits out a long hold-off.
	for range 2 {
		l := e.leader(10 * time.Second)
		_, fence, _ := e.leaderFence(l)
		if err := e.faultPubsubKill(c, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.awaitNewTerm(fence, e.ttl+slack); err != nil {
			t.Fatal(err)
		}
	}
	e.assertLive(5*e.ttl + slack)
	e.finish()
}

// TestForeignValue: a value baton did not write sits at the lease key. No
// replica ever leads, each says why in /leader and in its log, and once the
// value is removed a leader comes within a TTL (nothing was written, so the
// store is unknown and the first term waits one).
func TestForeignValue(t *testing.T) {
	const ttl = time.Second
	e := newEnvNoNodes(t, ttl)
	c := e.redisClient()
	lease := keysOf().lease
	if err := c.Set(t.Context(), lease, "somebody else's", 0).Err(); err != nil {
		t.Fatal(err)
	}
	nodes := []*node{e.start(), e.start(), e.start()}
	time.Sleep(3 * ttl)
	assertNeverLed(t, e, nodes, "foreign value at key")
	if err := c.Del(t.Context(), lease).Err(); err != nil {
		t.Fatal(err)
	}
	e.hist.Healed("foreign value removed", 2*ttl+slack)
	e.leader(2*ttl + slack)
	e.assertLive(5*ttl + slack)
	e.finish()
}

// assertNeverLed checks that no node has led, and that each reports an
// error containing want in /leader and in its log.
func assertNeverLed(t *testing.T, e *env, nodes []*node, want string) {
	t.Helper()
	if n := e.hist.Terms(); n != 0 {
		t.Errorf("%d terms started; want none", n)
	}
	for _, n := range nodes {
		code, lb, err := n.status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusServiceUnavailable || lb.Leader {
			t.Errorf("%s: GET /leader %d %+v; want 503", n.name, code, lb)
		}
		if !strings.Contains(lb.LastError, want) {
			t.Errorf("%s: last_error %q; want it to contain %q", n.name, lb.LastError, want)
		}
		if !strings.Contains(n.log(), want) {
			t.Errorf("%s: log lacks %q:\n%s", n.name, want, tail(n.log(), 10))
		}
	}
}

// TestACLUserLacking: an ACL user without EVAL, or without PUBLISH, gets a
// clear error and never leads.
func TestACLUserLacking(t *testing.T) {
	const ttl = time.Second
	tests := []struct {
		name  string
		rules []any
		want  string
	}{
		{"EVAL", []any{"-eval", "-evalsha"}, "NOPERM"},
		{"PUBLISH", []any{"-publish"}, "PUBLISH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvNoNodes(t, ttl, "--redis-username", "batonuser")
			e.envv = []string{"BATON_REDIS_PASSWORD=s3cret"}
			c := e.redisClient()
			args := append([]any{"ACL", "SETUSER", "batonuser", "on", ">s3cret", "~*", "&*", "+@all"}, tc.rules...)
			if err := c.Do(t.Context(), args...).Err(); err != nil {
				t.Fatal(err)
			}
			nodes := []*node{e.start(), e.start()}
			time.Sleep(3 * ttl)
			assertNeverLed(t, e, nodes, tc.want)
			e.finish()
		})
	}
}

// awaitRenewal returns right after the leader's next renewal, seen as a
// jump of the lease's PTTL: the old leader's following renewal is then a
// whole renew interval away.
func (e *env) awaitRenewal(c *redis.Client) error {
	key := keysOf().lease
	ctx := context.Background()
	last, err := c.PTTL(ctx, key).Result()
	if err != nil || last <= 0 {
		return fmt.Errorf("lease PTTL %v: %v", last, err)
	}
	deadline := time.Now().Add(e.ttl)
	for time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
		now, err := c.PTTL(ctx, key).Result()
		if err == nil && now > last+10*time.Millisecond {
			return nil
		}
		last = now
	}
	return fmt.Errorf("no renewal within %v", e.ttl)
}

// TestLeaseOnlyLoss: the lease key alone vanishes right after a renewal (an
// eviction, an operator's DEL), while the fence counter and the term record
// stay; a replica that has never seen a fence starts right after. The old
// leader believes in its term until its next renewal finds the lease gone,
// a renew interval later, and its term is valid for a TTL after the last
// renewal: nobody may lead before then. The history must show no overlap.
//
// The control shows that the fault is real: deleting the term record too
// (the documented way to hand a lock over by hand) lets the new replica
// lead at once, while the old leader still does.
func TestLeaseOnlyLoss(t *testing.T) {
	const ttl = 3 * time.Second // renew every 1s: a new replica starts well within that
	t.Run("lease key only", func(t *testing.T) {
		e := newEnv(t, 3, ttl)
		c := e.redisClient()
		e.leader(10 * time.Second)
		for range 3 {
			if err := e.awaitRenewal(c); err != nil {
				t.Fatal(err)
			}
			fence, err := e.faultLeaseDel(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.awaitNewTerm(fence, e.ttl+slack); err != nil {
				t.Fatal(err)
			}
		}
		e.assertLive(3*ttl + slack)
		r := e.finish()
		t.Logf("FIGURE: lease-only loss, 3 rounds: overlaps %d, smallest margin %v, largest gap %v",
			len(r.Overlaps), r.MinMargin.Round(time.Millisecond), r.MaxGap.Round(time.Millisecond))
	})
	t.Run("control: lease and term record", func(t *testing.T) {
		e := newEnv(t, 3, ttl)
		c := e.redisClient()
		k := keysOf()
		e.leader(10 * time.Second)
		overlapped := 0
		for range 3 {
			if err := e.awaitRenewal(c); err != nil {
				t.Fatal(err)
			}
			l, err := e.findLeader()
			if err != nil {
				t.Fatal(err)
			}
			_, fence, _ := e.leaderFence(l)
			if err := c.Del(t.Context(), k.lease, k.term).Err(); err != nil {
				t.Fatal(err)
			}
			e.kill(e.followerOf(l, func(int) int { return 0 }))
			e.start()
			terms, _, _, _ := e.hist.Snapshot()
			before := Overlap(terms)
			if _, _, err := e.awaitNewTerm(fence, e.ttl+slack); err != nil {
				t.Fatal(err)
			}
			time.Sleep(ttl / 3) // the old leader's next renewal finds the lease taken
			terms, _, _, _ = e.hist.Snapshot()
			if Overlap(terms) > before {
				overlapped++
			}
		}
		e.teardown()
		terms, _, _, _ := e.hist.Snapshot()
		t.Logf("FIGURE: lease and term record deleted, 3 rounds: %d overlapping, double-leader time %v",
			overlapped, Overlap(terms).Round(time.Millisecond))
		if overlapped == 0 {
			t.Error("no overlap in 3 rounds without the term record: the fault did not reach the window it is meant to test")
		}
	})
}

// TestStallOnePooledConnection: the connection that the leader's pool hands
// out next stops forwarding either way for longer than the renew deadline,
// while new connections work. The renewal on it is cut off by its attempt
// timeout (2*RetryPeriod), and the retry goes out on a new connection well
// before the renew deadline: the leader keeps its term, with the same
// fence, through every stall.
func TestStallOnePooledConnection(t *testing.T) {
	const ttl = 2 * time.Second // renew every 667ms, retry 167ms, attempt 333ms, deadline 1.33s
	e := newEnv(t, 3, ttl)
	l := e.leader(10 * time.Second)
	_, fence, _ := e.leaderFence(l)
	for i := range 3 {
		dropped, ok := e.faultStall(l, 2*time.Second)
		if !ok {
			t.Fatalf("%s has no open connection to stall", l.name)
		}
		if dropped == 0 {
			t.Fatalf("stall %d swallowed nothing: %s sent no renewal on the stalled connection", i, l.name)
		}
		t.Logf("FIGURE: stall %d of one pooled connection for 2s swallowed %d bytes", i, dropped)
		if f, ok := e.hist.Open()[l.name]; !ok || f != fence {
			t.Fatalf("after stall %d (%d bytes swallowed) %s holds fence %d (open %v), want its term %d kept", i, dropped, l.name, f, ok, fence)
		}
	}
	if n := e.hist.Terms(); n != 1 {
		t.Errorf("%d terms; want the first one only", n)
	}
	e.assertLive(3*ttl + slack)
	e.finish()
}

// TestSilentSubscribeFollower: the pub/sub connection of the only follower
// goes silent (its subscription reconnects, and Redis is never heard on it
// again). The follower misses the release, and must take over by the
// lease's PTTL; once the silence ends, it hears releases again and takes
// over at once.
func TestSilentSubscribeFollower(t *testing.T) {
	const ttl = 3 * time.Second // a takeover by PTTL takes seconds, by message milliseconds
	e := newEnv(t, 2, ttl)
	l := e.leader(10 * time.Second)
	f := e.followerOf(l, func(int) int { return 0 })
	_, fence, _ := e.leaderFence(l)
	// Silence an established subscription: a subscription not yet
	// confirmed would instead hold f for the subscribe timeout.
	awaitWaiting(t, f, l, 2*ttl+slack)

	f.proxy.SetSilentAfterSubscribe(true)
	f.proxy.CloseSubscribed()
	waitFor(t, 5*time.Second, f.name+" resubscribes into the silence", func() bool { return f.proxy.Silenced() > 0 })
	if err := l.resign(2 * ttl); err != nil {
		t.Fatal(err)
	}
	n, silentFence, err := e.awaitNewTerm(fence, ttl+slack)
	if err != nil {
		t.Fatal(err)
	}
	if n != f {
		t.Fatalf("%s took over; want %s", n.name, f.name)
	}
	silentGap := e.gap(l.name, fence, f.name, silentFence)

	// The silence ends; f hands back to l (once l's hold-off is over), then
	// waits for it again, once its own hold-off is over.
	f.proxy.SetSilentAfterSubscribe(false)
	if err := f.resign(2 * ttl); err != nil {
		t.Fatal(err)
	}
	n, lFence, err := e.awaitNewTerm(silentFence, 2*ttl+slack)
	if err != nil {
		t.Fatal(err)
	}
	if n != l {
		t.Fatalf("%s took over; want %s", n.name, l.name)
	}
	awaitWaiting(t, f, l, 2*ttl+slack)
	if err := l.resign(2 * ttl); err != nil {
		t.Fatal(err)
	}
	_, healedFence, err := e.awaitNewTerm(lFence, ttl+slack)
	if err != nil {
		t.Fatal(err)
	}
	healedGap := e.gap(l.name, lFence, f.name, healedFence)
	t.Logf("FIGURE: takeover by a follower with a silent subscription %v (by PTTL), after the silence %v (by message)",
		silentGap.Round(time.Millisecond), healedGap.Round(time.Millisecond))
	if healedGap > time.Second {
		t.Errorf("takeover after the silence took %v; want milliseconds: the follower's subscription did not heal", healedGap)
	}
	e.assertLive(3*ttl + slack)
	e.finish()
}

// awaitWaiting waits until follower f has seen leader l, and then for its
// subscription to be confirmed: f waits for a release of l's lease.
func awaitWaiting(t *testing.T, f, l *node, d time.Duration) {
	t.Helper()
	waitFor(t, d, f.name+" follows "+l.name, func() bool {
		_, lb, err := f.status(context.Background())
		return err == nil && lb.Holder == l.name
	})
	time.Sleep(500 * time.Millisecond) // a subscription on loopback is confirmed in a millisecond
}

// TestSigtermSilentSubscribe: a follower whose subscription is never
// confirmed (the connection stays open and silent after SUBSCRIBE) gets
// SIGTERM while it waits for that confirmation. It must exit within its
// bound: --release-timeout, then the HTTP servers' shutdown (2s), plus
// slack. A subscription that waits on the connection alone never returns.
func TestSigtermSilentSubscribe(t *testing.T) {
	const ttl = time.Second
	tests := []struct {
		name string
		// silence puts follower f into a subscription that is never
		// confirmed, and returns the replica that waits in it.
		silence func(e *env, f *node) *node
	}{
		{"new replica", func(e *env, f *node) *node {
			n, silenced := e.startSilent(f)
			if !silenced {
				e.t.Fatalf("%s never subscribed", n.name)
			}
			return n
		}},
		{"follower after a failed acquire", func(e *env, f *node) *node {
			// A blackhole makes f's waiting acquire fail; the next one
			// subscribes anew, into the silence.
			f.proxy.SetSilentAfterSubscribe(true)
			f.proxy.SetBlackhole(true)
			waitFor(e.t, 3*ttl+slack, f.name+" reports the failed acquire", func() bool {
				_, lb, err := f.status(context.Background())
				return err == nil && lb.LastError != ""
			})
			before := f.proxy.Silenced()
			f.proxy.SetBlackhole(false)
			waitFor(e.t, 3*ttl+slack, f.name+" subscribes anew", func() bool { return f.proxy.Silenced() > before })
			return f
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 2, ttl)
			l := e.leader(10 * time.Second)
			n := tc.silence(e, e.followerOf(l, func(int) int { return 0 }))
			time.Sleep(300 * time.Millisecond) // well inside its subscription wait
			took := e.term(n)
			t.Logf("FIGURE: SIGTERM of a follower waiting on a silent SUBSCRIBE (%s): exited after %v, bound %v",
				tc.name, took.Round(time.Millisecond), exitBound)
			if took > exitBound {
				t.Errorf("%s took %v to exit after SIGTERM; bound %v", n.name, took, exitBound)
			}
			e.assertLive(3*ttl + slack)
			e.finish()
		})
	}
}
