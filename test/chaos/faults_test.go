package chaos

import (
	"context"
	"fmt"
	"net/http"
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
