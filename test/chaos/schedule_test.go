//go:build linux

package chaos

// TestChaosSchedule is the schedule topology: three `baton run --schedule
// '@every 1s'` replicas of one job, each behind its own fault proxy, on one
// redis-server that keeps its data (appendonly, appendfsync always: losing
// Redis's data is a documented limit of schedule mode, not a fault here).
// The job, this test binary again (schedule_job_test.go), stamps each
// attempt, runs up to 300ms and exits 1 one time in 8. Under kill -9,
// SIGSTOP shorter and longer than the TTL, Redis restarts and latency,
// CheckSchedule proves exactly-once from the stamps and the job's record.

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
)

var scheduleDuration = flag.Duration("chaos.schedule-duration", 2*time.Minute,
	"length of TestChaosSchedule's fault run, one window a second (2m gives about 118 windows); 0 skips it")

const (
	schedEvery = time.Second
	// The rule of missed windows (ScheduleInput): a replica has
	// schedRecover after a fault heals to see it, and schedClaim to claim.
	schedRecover = 300 * time.Millisecond
	schedClaim   = 300 * time.Millisecond
	// heavyLatency is the latency, each way, from which a replica counts
	// as out for the rule.
	heavyLatency = 100 * time.Millisecond
)

// schedWorld records the faults and the replicas' lives on the wall clock.
type schedWorld struct {
	mu      sync.Mutex
	outages []Outage
	lives   []Life
	faults  map[string]int
}

func (w *schedWorld) born(n *node) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lives = append(w.lives, Life{Name: n.name, From: time.Now().UnixNano()})
}

// begin opens an outage of target and counts the fault; end closes it.
func (w *schedWorld) begin(kind, target string, heavy bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults[kind]++
	w.outages = append(w.outages, Outage{Kind: kind, Target: target, From: time.Now().UnixNano(), To: math.MaxInt64, Heavy: heavy})
	return len(w.outages) - 1
}

// end closes outage i, tail after now (latency still in flight).
func (w *schedWorld) end(i int, tail time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outages[i].To = time.Now().Add(tail).UnixNano()
}

// schedChaos injects the faults of the schedule topology.
type schedChaos struct {
	e     *env
	w     *schedWatch
	world *schedWorld
	rng   *rand.Rand
}

func (s *schedChaos) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)+1))
}

// runner waits up to d for a live replica whose job runs, and returns it
// and its job's pid; else a random live replica, and 0.
func (s *schedChaos) runner(d time.Duration) (*node, int) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		for id, pid := range s.w.running() {
			if n := s.e.node(id); n != nil && n.alive() {
				return n, pid
			}
		}
	}
	live := s.e.live()
	return live[s.rng.IntN(len(live))], 0
}

func (s *schedChaos) kill() error {
	n, _ := s.runner(1500 * time.Millisecond)
	s.world.begin("kill -9 (the runner if one ran)", n.name, true)
	s.e.kill(n)
	s.world.born(s.e.start())
	return nil
}

// stop stops n's baton alone for d. Beyond the renew deadline and the
// kill grace, job (when not 0) must be dead before the resume: its guard
// kills it, although baton is stopped.
func (s *schedChaos) stop(kind string, n *node, job int, d time.Duration) error {
	o := s.world.begin(kind, n.name, true)
	pid := n.cmd.Process.Pid
	s.e.stop(n)
	defer func() { s.e.cont(n); s.world.end(o, 0) }()
	if !awaitState(pid, "T", slack) {
		return fmt.Errorf("%s not stopped after SIGSTOP: state %q", n.name, procState(pid))
	}
	time.Sleep(d)
	bound := 2*s.e.ttl/3 + execKillGrace // the default renew deadline, then the grace
	if st := procState(job); job != 0 && d > bound+slack/4 && st != "" && st != "Z" {
		return fmt.Errorf("job %d of %s still runs %v after its baton stopped (state %q)", job, n.name, d, st)
	}
	return nil
}

func (s *schedChaos) redisRestart() error {
	before, err := s.fence()
	if err != nil {
		return err
	}
	o := s.world.begin("redis restart (data kept)", "redis", true)
	s.e.redis.Kill()
	time.Sleep(s.between(0, 1500*time.Millisecond))
	s.e.redis.Restart()
	s.world.end(o, 0)
	after, err := s.fence()
	if err != nil {
		return err
	}
	if after < before {
		return fmt.Errorf("the job's fence went from %d to %d across a Redis restart: data lost", before, after)
	}
	return nil
}

// latency slows every node's proxy by d each way for 1 to 3 s.
// fence reads the job's fence on a fresh client: a client that failed to
// dial as often as its pool is large answers with that error for up to a
// second after Redis is back (go-redis's dial circuit breaker).
func (s *schedChaos) fence() (uint64, error) {
	c := redis.NewClient(&redis.Options{Addr: s.e.addr})
	defer c.Close()
	f, err := c.Get(context.Background(), keyOf(redislock.DefaultPrefix, lockName, "run:fence")).Uint64()
	if err == redis.Nil {
		return 0, nil
	}
	return f, err
}

func (s *schedChaos) latency(kind string, nodes []*node, d time.Duration) {
	var outs []int
	for _, n := range nodes {
		outs = append(outs, s.world.begin(kind, n.name, d >= heavyLatency))
		n.proxy.SetLatency(d)
	}
	time.Sleep(s.between(time.Second, 3*time.Second))
	for i, n := range nodes {
		n.proxy.SetLatency(0)
		s.world.end(outs[i], 2*d) // bytes already delayed
	}
}

// faults are the schedule topology's faults, by weight.
func (s *schedChaos) faults() []weightedFault {
	ttl := s.e.ttl
	return []weightedFault{
		{"kill -9", 3, func(*env, *rand.Rand, redisDoer) error { return s.kill() }},
		{"sigstop runner < TTL", 2, func(*env, *rand.Rand, redisDoer) error {
			n, job := s.runner(1500 * time.Millisecond)
			return s.stop("sigstop the runner < TTL", n, job, s.between(ttl/5, 4*ttl/5))
		}},
		{"sigstop runner > TTL", 3, func(*env, *rand.Rand, redisDoer) error {
			n, job := s.runner(1500 * time.Millisecond)
			return s.stop("sigstop the runner > TTL", n, job, s.between(2*ttl, 3*ttl))
		}},
		{"sigstop across windows", 1, func(*env, *rand.Rand, redisDoer) error {
			live := s.e.live()
			return s.stop("sigstop a replica across window starts", live[s.rng.IntN(len(live))], 0, s.between(time.Second, 2500*time.Millisecond))
		}},
		{"redis restart", 2, func(*env, *rand.Rand, redisDoer) error { return s.redisRestart() }},
		{"latency runner", 2, func(*env, *rand.Rand, redisDoer) error {
			n, _ := s.runner(1500 * time.Millisecond)
			s.latency("latency on the runner (100ms to TTL)", []*node{n}, s.between(heavyLatency, ttl))
			return nil
		}},
		{"latency all", 1, func(*env, *rand.Rand, redisDoer) error {
			s.latency("latency on every replica (5 to 40ms)", s.e.live(), s.between(5*time.Millisecond, 40*time.Millisecond))
			return nil
		}},
	}
}

// TestChaosSchedule: see the comment at the top of this file.
func TestChaosSchedule(t *testing.T) {
	if testing.Short() || *scheduleDuration <= 0 {
		t.Skip("schedule topology skipped (-short, or -chaos.schedule-duration=0)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ttl := *chaosTTL
	srv := redistest.Start(t, append(redisOnTmpfs(t), "appendonly yes", "appendfsync always")...)
	e := &env{t: t, redis: srv, hist: NewHistory(), ttl: ttl, dir: logDir(t), addr: srv.Addr()}
	t.Cleanup(e.teardown)
	stamps := filepath.Join(e.dir, "schedule-stamps.log")
	_ = os.Remove(stamps) // an earlier run's, under -chaos.logs
	w := newSchedWatch(stamps)
	t.Cleanup(w.close)
	e.sub = []string{"run"}
	e.extra = []string{"--schedule", "@every " + schedEvery.String(), "--max-attempts", "3", "--kill-grace", execKillGrace.String(), "--", self}
	// GORACE: a job built with -race otherwise sleeps a second at its exit.
	e.envv = []string{schedChildEnv + "=1", schedStampsEnv + "=" + stamps, schedSeedEnv + "=" + strconv.FormatUint(*chaosSeed, 10),
		"GORACE=atexit_sleep_ms=0"}

	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	job, err := runs.New(c, lockName, runs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The windows follow Redis TIME; the rule and the start lag compare
	// them with this host's wall clock, which Redis reads too.
	if now, err := job.Now(t.Context()); err != nil {
		t.Fatal(err)
	} else if d := time.Since(now); d < -50*time.Millisecond || d > 50*time.Millisecond {
		t.Fatalf("Redis TIME is %v off this host's clock", d)
	}
	rec := newRecordPoll(job, c)
	stopPoll := rec.loop(500 * time.Millisecond)
	world := &schedWorld{faults: map[string]int{}}
	for range 3 {
		world.born(e.start())
	}
	from := time.Now().Add(time.Second).Truncate(schedEvery).Add(schedEvery)
	s := &schedChaos{e: e, w: w, world: world,
		rng: rand.New(rand.NewPCG(*chaosSeed, *chaosSeed^0x9e3779b97f4a7c15))}
	t.Logf("seed %d, duration %v, TTL %v, kill grace %v, windows @every %v", *chaosSeed, *scheduleDuration, ttl, execKillGrace, schedEvery)

	e.settle = func() error { return nil }
	runMix(t, e, nil, s.rng, s.faults(), 2*schedEvery, *scheduleDuration)
	to := time.Now().Truncate(schedEvery)
	// The last windows' attempts end, and the record is read after them.
	time.Sleep(time.Until(to.Add(2 * schedEvery)))
	stopPoll()
	if err := rec.final(t.Context()); err != nil {
		t.Errorf("the job's record at the end: %v", err)
	}
	e.teardown()
	w.close()

	attempts, errs := joinAttempts(w, rec)
	r := CheckSchedule(ScheduleInput{
		Every: schedEvery, From: from, To: to, Attempts: attempts,
		Outages: world.outages, Lives: world.lives, Recover: schedRecover, Claim: schedClaim,
		Explain: releaseTimeout + 500*time.Millisecond, Faults: world.faults,
	})
	t.Log("\n" + r.Table())
	if testing.Verbose() {
		t.Log("windows without a success:\n" + strings.Join(r.NoSuccessDetail, "\n"))
	}
	if want := int(to.Sub(from)/schedEvery) - 1; r.Windows < want {
		t.Errorf("%d windows checked, want %d", r.Windows, want)
	}
	for _, p := range append(append(errs, r.Problems()...), e.hist.StuckReplicas()...) {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("stamps in %s (kept with -chaos.logs); the log of Redis:\n%s", stamps, tail(srv.Log(), 12))
	}
}

// redisOnTmpfs puts Redis's data in /dev/shm when there is one: with
// appendfsync always, a disk's fsync would stall every write for as long
// as the machine's other work keeps the disk busy. A kill -9 of Redis
// keeps what it wrote either way.
func redisOnTmpfs(t *testing.T) []string {
	dir, err := os.MkdirTemp("/dev/shm", "baton-chaos-redis-")
	if err != nil {
		return nil
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return []string{"dir " + dir}
}

// joinAttempts joins the stamped attempts with the record's, by run id.
func joinAttempts(w *schedWatch, rec *recordPoll) ([]SchedAttempt, []string) {
	stamped, errs := w.attempts()
	byID := map[string]*SchedAttempt{}
	var order []string
	for i := range stamped {
		byID[stamped[i].RunID] = &stamped[i]
		order = append(order, stamped[i].RunID)
	}
	for _, r := range rec.records() {
		win, err := time.Parse(time.RFC3339, r.Window)
		if err != nil {
			errs = append(errs, fmt.Sprintf("record of run %s: window %q: %v", r.RunID, r.Window, err))
			continue
		}
		a := byID[r.RunID]
		if a == nil {
			a = &SchedAttempt{Window: win, RunID: r.RunID, Attempt: r.Attempt, Fence: r.Fence, Identity: r.Identity}
			byID[r.RunID] = a
			order = append(order, r.RunID)
		} else if !a.Window.Equal(win) || a.Attempt != r.Attempt || a.Fence != r.Fence || a.Identity != r.Identity {
			errs = append(errs, fmt.Sprintf("run %s: the job got window %s attempt %d fence %d on %s; the record says %s, %d, %d, %s",
				r.RunID, runs.WindowName(a.Window), a.Attempt, a.Fence, a.Identity, r.Window, r.Attempt, r.Fence, r.Identity))
		}
		a.Recorded, a.Status, a.RecordStart, a.RecordEnd = true, r.Status, r.Start, r.End
	}
	out := make([]SchedAttempt, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, errs
}
