//go:build linux

package chaos

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var (
	chaosDuration = flag.Duration("chaos.duration", 2*time.Minute, "length of TestChaos's randomized run (make chaos: 10m)")
	chaosSeed     = flag.Uint64("chaos.seed", 1, "seed of TestChaos's fault schedule; the same seed gives the same schedule")
	chaosTTL      = flag.Duration("chaos.ttl", 500*time.Millisecond, "lease TTL of TestChaos's sidecars")
	chaosMinTerms = flag.Int("chaos.min-transitions", 0, "fail TestChaos with fewer terms than this (make chaos: 1000)")
)

// weightedFault is one kind in the randomized schedule.
type weightedFault struct {
	kind   string
	weight int
	run    func(e *env, rng *rand.Rand, c redisDoer) error
}

// randomFaults mixes every fault. Resign and SIGTERM handovers dominate, so
// that a run makes many transitions; the rest come often enough that a
// two-minute run sees each kind several times.
func randomFaults(ttl time.Duration) []weightedFault {
	between := func(rng *rand.Rand, lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	follower := func(e *env, rng *rand.Rand) *node {
		nodes := e.live()
		return nodes[rng.IntN(len(nodes))]
	}
	withLeader := func(e *env, f func(l *node)) error {
		l, err := e.findLeader()
		if err != nil {
			return err
		}
		f(l)
		return nil
	}
	return []weightedFault{
		{"resign via API", 40, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return e.faultResign(between(rng, 0, ttl))
		}},
		{"sigterm leader", 14, func(e *env, _ *rand.Rand, _ redisDoer) error {
			_, err := e.faultTerm()
			return err
		}},
		{"kill -9 leader", 5, func(e *env, _ *rand.Rand, _ redisDoer) error { return e.faultKill() }},
		{"sigstop leader", 4, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return e.faultStop(between(rng, 2*ttl, 3*ttl))
		}},
		{"redis restart", 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			e.faultRedisRestart(between(rng, 0, 2*ttl))
			return nil
		}},
		{"flushall", 4, func(e *env, _ *rand.Rand, c redisDoer) error { return e.faultFlushAll(c) }},
		{"latency short", 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return withLeader(e, func(l *node) { e.faultLatency("latency short", l, ttl/20, between(rng, ttl, 2*ttl)) })
		}},
		{"latency long", 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return withLeader(e, func(l *node) { e.faultLatency("latency long", l, ttl, between(rng, ttl, 2*ttl)) })
		}},
		{"blackhole short", 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return withLeader(e, func(l *node) { e.faultBlackhole("blackhole short", l, between(rng, ttl/10, ttl/4)) })
		}},
		{"blackhole long", 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return withLeader(e, func(l *node) { e.faultBlackhole("blackhole long", l, between(rng, ttl, 3*ttl)) })
		}},
		{"latency on any replica", 2, func(e *env, rng *rand.Rand, _ redisDoer) error {
			e.faultLatency("latency on any replica", follower(e, rng), ttl, between(rng, ttl, 2*ttl))
			return nil
		}},
		{"client pause", 3, func(e *env, rng *rand.Rand, c redisDoer) error {
			return e.faultPause(c, between(rng, ttl, 3*ttl))
		}},
		{"pubsub kill before release", 4, func(e *env, rng *rand.Rand, c redisDoer) error {
			return e.faultPubsubKill(c, between(rng, 0, ttl))
		}},
		{kindLeaseDel, 3, func(e *env, _ *rand.Rand, c redisDoer) error {
			_, err := e.faultLeaseDel(c)
			return err
		}},
		{kindStall, 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			// Longer than the renew interval: the stalled connection meets
			// at least one renewal, unless the pool had none open.
			return withLeader(e, func(l *node) { e.faultStall(l, between(rng, ttl/3, ttl)) })
		}},
		{kindSilentFollower, 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			return withLeader(e, func(l *node) {
				if f := e.followerOf(l, rng.IntN); f != nil {
					e.faultSilentFollower(f, between(rng, ttl, 3*ttl))
				}
			})
		}},
		{kindSilentTerm, 2, func(e *env, rng *rand.Rand, c redisDoer) error {
			l, err := e.findLeader()
			if err != nil {
				return err
			}
			if f := e.followerOf(l, rng.IntN); f != nil {
				// The exit is checked by the history: a late one counts as stuck.
				_, _, err = e.faultSilentTerm(c, f, between(rng, 0, ttl))
			}
			return err
		}},
	}
}

// TestChaos is the randomized run: every fault, mixed by a seeded schedule,
// against three sidecars on one Redis; the checker then proves the history.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("randomized run skipped with -short")
	}
	ttl := *chaosTTL
	e := newEnv(t, 3, ttl)
	c := e.redisClient()
	rng := rand.New(rand.NewPCG(*chaosSeed, *chaosSeed^0x9e3779b97f4a7c15))
	faults := randomFaults(ttl)
	t.Logf("seed %d, duration %v, TTL %v", *chaosSeed, *chaosDuration, ttl)
	e.leader(10 * time.Second)

	runMix(t, e, c, rng, faults, ttl, *chaosDuration)
	e.assertLive(5*ttl + slack)
	r := e.finish()
	if r.Transitions < *chaosMinTerms {
		t.Errorf("%d transitions, want at least %d", r.Transitions, *chaosMinTerms)
	}
}

// runMix declares every fault kind to the history (the report lists each,
// also one that never came up), then injects faults drawn by weight for d,
// waiting after each for a leader (or e.settle, see afterFault) and a random
// pause of up to TTL/2. On a
// failure it logs the tail of the schedule, to replay with the seed.
func runMix(t *testing.T, e *env, c redisDoer, rng *rand.Rand, faults []weightedFault, ttl, d time.Duration) {
	t.Helper()
	total := 0
	for _, f := range faults {
		total += f.weight
		e.hist.Declare(f.kind)
	}
	var schedule strings.Builder
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		pick := rng.IntN(total)
		var f weightedFault
		for _, f = range faults {
			if pick < f.weight {
				break
			}
			pick -= f.weight
		}
		fmt.Fprintf(&schedule, "%d %s\n", i, f.kind)
		if err := f.run(e, rng, c); err != nil {
			t.Errorf("fault %d (%s): %v", i, f.kind, err)
			break
		}
		if err := e.afterFault(); err != nil {
			t.Errorf("after fault %d (%s): %v", i, f.kind, err)
			break
		}
		time.Sleep(time.Duration(rng.Int64N(int64(ttl / 2))))
	}
	if t.Failed() {
		t.Logf("schedule (seed %d):\n%s", *chaosSeed, tail(schedule.String(), 30))
	}
}

// afterFault waits for what runMix needs before the next fault: a leader,
// or, when e.settle is set, whatever it waits for.
func (e *env) afterFault() error {
	if e.settle != nil {
		return e.settle()
	}
	_, err := e.findLeader()
	return err
}
