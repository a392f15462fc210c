//go:build linux

package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The faults, each usable alone (one test per fault) and in the randomized
// run. Each counts itself, waits for its own effect where it has one, and
// records when it healed with the bound within which a leader must exist.

// findLeader is leader() for the randomized run: a missing leader is an
// error, not a fatal test failure.
func (e *env) findLeader() (*node, error) { return e.awaitLeader(3*e.ttl + 2*slack) }

// faultKill kills the leader with SIGKILL and starts a replacement.
func (e *env) faultKill() error {
	l, err := e.findLeader()
	if err != nil {
		return err
	}
	e.hist.Fault("kill -9 leader")
	e.kill(l)
	e.hist.Healed("kill -9 leader", e.ttl+slack)
	e.start()
	return nil
}

// faultStop stops the leader with SIGSTOP for d, which should exceed the
// TTL, and resumes it. The resumed process must answer GET /leader with 503
// on its very first request.
func (e *env) faultStop(d time.Duration) error {
	l, err := e.findLeader()
	if err != nil {
		return err
	}
	_, fence, _ := e.leaderFence(l)
	e.hist.Fault("sigstop leader")
	e.stop(l)
	time.Sleep(d)
	_, _, werr := e.awaitNewTerm(fence, e.ttl+slack)
	e.cont(l)
	code, lb, err := l.status(context.Background())
	e.hist.Healed("sigstop leader", slack)
	switch {
	case err != nil:
		return fmt.Errorf("resumed %s: GET /leader: %v", l.name, err)
	case code != http.StatusServiceUnavailable || lb.Leader:
		return fmt.Errorf("resumed %s reported itself leader: %d %+v", l.name, code, lb)
	case werr != nil:
		return fmt.Errorf("while %s was stopped: %w", l.name, werr)
	}
	return nil
}

func (e *env) leaderFence(n *node) (string, uint64, bool) {
	f, ok := e.hist.Open()[n.name]
	return n.name, f, ok
}

// faultTerm sends SIGTERM to the leader, which hands over at once, and
// starts a replacement. It returns the handover gap.
func (e *env) faultTerm() (time.Duration, error) {
	l, err := e.findLeader()
	if err != nil {
		return 0, err
	}
	_, fence, _ := e.leaderFence(l)
	e.hist.Fault("sigterm leader")
	e.term(l)
	e.hist.Healed("sigterm leader", slack)
	next, nf, err := e.awaitNewTerm(fence, e.ttl+slack)
	e.start()
	if err != nil {
		return 0, err
	}
	return e.gap(l.name, fence, next.name, nf), nil
}

// gap is the time between the end of one term and the start of another.
func (e *env) gap(prev string, pf uint64, next string, nf uint64) time.Duration {
	terms, _, _, _ := e.hist.Snapshot()
	var end, start int64
	for _, t := range terms {
		if t.Instance == prev && t.Fence == pf {
			end = t.End
		}
		if t.Instance == next && t.Fence == nf {
			start = t.Start
		}
	}
	return time.Duration(start - end)
}

// faultResign asks the leader to release through the API.
func (e *env) faultResign(holdOff time.Duration) error {
	l, err := e.findLeader()
	if err != nil {
		return err
	}
	e.hist.Fault("resign via API")
	if err := l.resign(holdOff); err != nil {
		return err
	}
	e.hist.Healed("resign via API", slack)
	return nil
}

// faultRedisRestart kills Redis, keeps it down for d and starts it again,
// empty, on the same port.
func (e *env) faultRedisRestart(d time.Duration) {
	e.hist.Fault("redis restart")
	e.redis.Kill()
	time.Sleep(d)
	e.redis.Restart()
	// Acquire backs off up to the TTL (+20% jitter) while Redis is down.
	e.hist.Healed("redis restart", 2*e.ttl+slack)
}

// faultFlushAll empties Redis.
func (e *env) faultFlushAll(c redisDoer) error {
	e.hist.Fault("flushall")
	if err := c.Do(context.Background(), "FLUSHALL").Err(); err != nil {
		return err
	}
	e.hist.Healed("flushall", e.ttl+slack)
	return nil
}

// faultLatency adds latency d (each way) between n and Redis for dur.
func (e *env) faultLatency(kind string, n *node, d, dur time.Duration) {
	e.hist.Fault(kind)
	n.proxy.SetLatency(d)
	time.Sleep(dur)
	n.proxy.SetLatency(0)
	e.hist.Healed(kind, e.ttl+2*d+slack)
}

// faultBlackhole drops all traffic between n and Redis for dur.
func (e *env) faultBlackhole(kind string, n *node, dur time.Duration) {
	e.hist.Fault(kind)
	n.proxy.SetBlackhole(true)
	time.Sleep(dur)
	n.proxy.SetBlackhole(false)
	e.hist.Healed(kind, e.ttl+slack)
}

// faultPause runs CLIENT PAUSE ALL for d.
func (e *env) faultPause(c redisDoer, d time.Duration) error {
	e.hist.Fault("client pause")
	if err := c.Do(context.Background(), "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err(); err != nil {
		return err
	}
	time.Sleep(d)
	// Acquire backs off up to the TTL while commands time out.
	e.hist.Healed("client pause", 2*e.ttl+slack)
	return nil
}

// faultPubsubKill kills every pub/sub connection, then the leader releases:
// waiters miss the release message and must wake by the lease's PTTL.
func (e *env) faultPubsubKill(c redisDoer, holdOff time.Duration) error {
	l, err := e.findLeader()
	if err != nil {
		return err
	}
	e.hist.Fault("pubsub kill before release")
	if err := c.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		return err
	}
	if err := l.resign(holdOff); err != nil {
		return err
	}
	e.hist.Healed("pubsub kill before release", e.ttl+slack)
	return nil
}

// Kinds of the faults below, as the report counts them.
const (
	kindLeaseDel       = "lease del + new replica"
	kindStall          = "stall one leader connection"
	kindSilentFollower = "silent subscribe on a follower"
	kindSilentTerm     = "sigterm a silent-subscribe replica"
)

// followerOf returns a running replica other than l, or nil.
func (e *env) followerOf(l *node, pick func(n int) int) *node {
	var fs []*node
	for _, n := range e.live() {
		if n != l {
			fs = append(fs, n)
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return fs[pick(len(fs))]
}

// settledLeader waits until Redis remembers the current term: a running
// leader whose fence is the lease's in Redis, with a term record. After a
// fault that empties Redis (FLUSHALL, a restart without persistence) the
// term in force is unknown to Redis until its leader steps down and a new
// term begins; a replica that has never seen a fence cannot be held off
// such a term by anything in Redis (see acquire.lua: only a candidate that
// has seen a fence sets the quarantine). The faults that start a new
// replica beside a live leader therefore wait for this, so that they test
// what they name and not that combination.
func (e *env) settledLeader(c redisDoer) (*node, uint64, error) {
	k := keysOf()
	ctx := context.Background()
	deadline := time.Now().Add(3*e.ttl + 2*slack)
	for {
		l, err := e.findLeader()
		if err != nil {
			return nil, 0, err
		}
		_, fence, _ := e.leaderFence(l)
		lf, _ := c.Do(ctx, "HGET", k.lease, "fence").Text()
		tf, _ := c.Do(ctx, "HGET", k.term, "fence").Text()
		if want := strconv.FormatUint(fence, 10); lf == want && tf == want {
			return l, fence, nil
		}
		if time.Now().After(deadline) {
			return nil, 0, fmt.Errorf("redis does not remember the term of %s (fence %d): lease fence %q, term record fence %q", l.name, fence, lf, tf)
		}
		time.Sleep(e.ttl / 10)
	}
}

// faultLeaseDel deletes the lease key alone, as maxmemory eviction or an
// operator's DEL would, and leaves the fence counter and the term record.
// Right after, a follower is replaced by a new replica that has never seen
// a fence, as a pod started during a rollout: it must not lead while the
// old term may still be valid. It returns the old leader's fence.
func (e *env) faultLeaseDel(c redisDoer) (uint64, error) {
	l, fence, err := e.settledLeader(c)
	if err != nil {
		return 0, err
	}
	f := e.followerOf(l, func(int) int { return 0 })
	if f == nil {
		return 0, fmt.Errorf("no follower of %s to replace", l.name)
	}
	e.hist.Fault(kindLeaseDel)
	if err := c.Do(context.Background(), "DEL", keysOf().lease).Err(); err != nil {
		return 0, err
	}
	// The old term stays valid for at most a TTL after its last renewal;
	// then every candidate may take the lease.
	e.hist.Healed(kindLeaseDel, e.ttl+slack)
	e.kill(f)
	e.start()
	return fence, nil
}

// faultStall stalls the connection that n's pool hands out next, for d,
// while every other connection works. It returns the bytes the stall
// swallowed (0: n sent nothing on that connection meanwhile), and false
// when n had no open connection to stall.
func (e *env) faultStall(n *node, d time.Duration) (int64, bool) {
	e.hist.Fault(kindStall)
	ok := n.proxy.StallActive()
	time.Sleep(d)
	dropped := n.proxy.Unstall()
	e.hist.Healed(kindStall, e.ttl+slack)
	return dropped, ok
}

// faultSilentFollower silences the pub/sub connection of follower f for d:
// its subscription is closed, and the one go-redis reconnects with never
// hears from Redis. Waiting by PTTL, f must still take over when a lease
// runs out, and work normally once the silence ends.
func (e *env) faultSilentFollower(f *node, d time.Duration) {
	e.hist.Fault(kindSilentFollower)
	f.proxy.SetSilentAfterSubscribe(true)
	f.proxy.CloseSubscribed()
	time.Sleep(d)
	f.proxy.SetSilentAfterSubscribe(false)
	e.hist.Healed(kindSilentFollower, e.ttl+slack)
}

// faultSilentTerm waits for Redis to remember the term in force (see
// settledLeader), replaces follower f by a replica whose subscriptions are
// never confirmed, lets it wait in that state for d, and sends it SIGTERM:
// it must exit within exitBound (else the history counts it as stuck). A
// normal replica replaces it. It returns how long the exit took, and
// whether the replica did wait on a silenced subscription (it did not if
// it found the lease free and led).
func (e *env) faultSilentTerm(c redisDoer, f *node, d time.Duration) (time.Duration, bool, error) {
	if _, _, err := e.settledLeader(c); err != nil {
		return 0, false, err
	}
	e.hist.Fault(kindSilentTerm)
	n, silenced := e.startSilent(f)
	time.Sleep(d)
	took := e.term(n)
	e.hist.Healed(kindSilentTerm, e.ttl+slack)
	e.start()
	return took, silenced, nil
}

// startSilent replaces follower f (if not nil) by a new replica whose
// pub/sub connections are silent from the start: its first subscription is
// never confirmed. It returns once that subscription was withheld, and
// false if that did not happen within a TTL and slack.
func (e *env) startSilent(f *node) (*node, bool) {
	if f != nil {
		e.kill(f)
	}
	n := e.startNode(nodeSpec{proxy: func(p *Proxy) { p.SetSilentAfterSubscribe(true) }})
	deadline := time.Now().Add(e.ttl + slack)
	for n.proxy.Silenced() == 0 {
		if time.Now().After(deadline) {
			return n, false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n, true
}
