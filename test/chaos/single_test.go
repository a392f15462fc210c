package chaos

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
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
// it steps down and another replica takes over.
func TestLatencyAndBlackhole(t *testing.T) {
	const ttl = 2 * time.Second // renew every 667ms, deadline 1.33s
	tests := []struct {
		name  string
		keeps bool
		fault func(e *env, n *node)
	}{
		{"latency shorter than the renew deadline", true, func(e *env, n *node) {
			e.faultLatency("latency short", n, 150*time.Millisecond, 3*time.Second)
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
// value is removed a leader comes at once.
func TestForeignValue(t *testing.T) {
	const ttl = time.Second
	e := newEnvNoNodes(t, ttl)
	c := e.redisClient()
	if err := c.Set(t.Context(), "baton:{chaos}:lease", "somebody else's", 0).Err(); err != nil {
		t.Fatal(err)
	}
	nodes := []*node{e.start(), e.start(), e.start()}
	time.Sleep(3 * ttl)
	assertNeverLed(t, e, nodes, "foreign value at key")
	if err := c.Del(t.Context(), "baton:{chaos}:lease").Err(); err != nil {
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
