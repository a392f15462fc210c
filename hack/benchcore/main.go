// Command benchcore measures baton's core targets on loopback with real
// processes: graceful handover latency, crash-failover overshoot beyond the
// TTL, the Redis load of an idle follower, and the sidecar's steady RSS.
// Run it with `make bench-core`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/baton-dev/baton/hack/proc"
	"github.com/baton-dev/baton/pkg/redislock"
)

const lockName = "bench"

func main() {
	baton := flag.String("baton", "bin/baton", "path of the baton binary")
	handovers := flag.Int("handovers", 200, "graceful handovers to measure")
	crashes := flag.Int("crashes", 200, "crash failovers to measure")
	crashTTL := flag.Duration("crash-ttl", 300*time.Millisecond, "lease TTL for the crash failovers")
	idleTTL := flag.Duration("idle-ttl", 2*time.Second, "lease TTL for the idle-follower measurement")
	idleFor := flag.Duration("idle-for", 20*time.Second, "how long to watch the idle follower")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := run(ctx, *baton, *handovers, *crashes, *crashTTL, *idleTTL, *idleFor); err != nil {
		fmt.Fprintln(os.Stderr, "benchcore:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, baton string, handovers, crashes int, crashTTL, idleTTL, idleFor time.Duration) error {
	dir, err := os.MkdirTemp("", "baton-benchcore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := proc.StartRedis(ctx, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()

	fmt.Printf("baton bench-core: redis %s, GOMAXPROCS-visible CPUs %d, load %s\n", srv.Addr, cpus(), proc.LoadAvg())

	api, logs, err := graceful(ctx, baton, dir, srv.Addr, handovers)
	if err != nil {
		return fmt.Errorf("graceful handovers: %w", err)
	}
	over, err := crash(ctx, baton, dir, srv.Addr, rdb, crashes, crashTTL)
	if err != nil {
		return fmt.Errorf("crash failovers: %w", err)
	}
	idle, err := idleFollower(ctx, baton, dir, srv.Addr, rdb, idleTTL, idleFor)
	if err != nil {
		return fmt.Errorf("idle follower: %w", err)
	}

	fmt.Println()
	fmt.Println("| Figure | Measured | Target |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| Graceful handover, elector to elector (log stamps), n=%d | p50 %s, p99 %s, max %s | p99 ≤ 5 ms |\n",
		len(logs), msf(pct(logs, 50)), msf(pct(logs, 99)), msf(pct(logs, 100)))
	fmt.Printf("| Graceful handover, POST /leader/release to the follower's long-poll answer, n=%d | p50 %s, p99 %s, max %s | |\n",
		len(api), msf(pct(api, 50)), msf(pct(api, 99)), msf(pct(api, 100)))
	fmt.Printf("| Crash-failover overshoot beyond the lease's expiry (TTL %v), n=%d | p50 %s, p99 %s, max %s | p99 ≤ 50 ms |\n",
		crashTTL, len(over), msf(pct(over, 50)), msf(pct(over, 99)), msf(pct(over, 100)))
	fmt.Printf("| Idle follower lock attempts (TTL %v, %v) | %.2f per TTL (%.3f/s); other commands sent %.3f/s (%s) | ≤ 1 per TTL |\n",
		idleTTL, idleFor, idle.attemptsPerTTL, idle.attemptsPerSec, idle.otherPerSec, idle.other)
	fmt.Printf("| Sidecar steady RSS (idle follower) | %.1f MiB | ≤ 30 MiB |\n", idle.rssMiB)
	fmt.Printf("\nload at the end: %s\n", proc.LoadAvg())
	return nil
}

// graceful ping-pongs leadership between two sidecars with POST
// /leader/release and a short hold-off, and measures each handover twice:
// from the API's point of view, and between the two electors' log stamps
// (the old leader's "stopped leading" to the new one's "started leading").
func graceful(ctx context.Context, baton, dir, addr string, n int) (api, logs []time.Duration, err error) {
	const ttl = "2s"
	var cars []*proc.Sidecar
	defer func() {
		for _, c := range cars {
			c.Kill()
		}
	}()
	for _, id := range []string{"g1", "g2"} {
		c, err := proc.StartSidecar(baton, dir, id, addr, lockName+"-graceful", "--lease-ttl", ttl)
		if err != nil {
			return nil, nil, err
		}
		cars = append(cars, c)
		if err := c.WaitReady(ctx); err != nil {
			return nil, nil, err
		}
	}
	leader, _, _, err := proc.FirstLeader(ctx, cars)
	if err != nil {
		return nil, nil, err
	}
	for range n {
		follower := cars[0]
		if follower == leader {
			follower = cars[1]
		}
		// The follower must be campaigning (its own hold-off over) and
		// subscribed before the release, as in steady state.
		if err := waitHolder(ctx, follower, leader.Identity); err != nil {
			return nil, nil, err
		}
		got := make(chan error, 1)
		var answered time.Time
		go func() {
			st, err := follower.Leader(ctx, 10*time.Second)
			answered = time.Now()
			if err == nil && !st.Leader {
				err = errors.New("follower did not take over")
			}
			got <- err
		}()
		// Give the long-poll a head start so it is parked before the release.
		time.Sleep(5 * time.Millisecond)
		start := time.Now()
		resp, err := http.Post(leader.APIURL+"/leader/release?hold_off=20ms", "", nil)
		if err != nil {
			return nil, nil, err
		}
		_ = resp.Body.Close()
		if err := <-got; err != nil {
			return nil, nil, err
		}
		api = append(api, answered.Sub(start))
		leader = follower
	}
	for _, c := range cars {
		c.Kill()
	}
	cars = nil
	logs, err = handoverGaps(filepath.Join(dir, "g1.log"), filepath.Join(dir, "g2.log"))
	return api, logs, err
}

func waitHolder(ctx context.Context, s *proc.Sidecar, holder string) error {
	for {
		st, err := s.Leader(ctx, 0)
		if err != nil {
			return err
		}
		if st.Holder == holder && !st.Leader {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

type transition struct {
	started bool
	mono    int64
}

// handoverGaps pairs each "stopped leading" with the next "started leading"
// of the other log, on CLOCK_MONOTONIC.
func handoverGaps(paths ...string) ([]time.Duration, error) {
	var all []transition
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Mono int64  `json:"mono_ns"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Mono == 0 {
				continue
			}
			switch line.Msg {
			case "started leading":
				all = append(all, transition{true, line.Mono})
			case "stopped leading":
				all = append(all, transition{false, line.Mono})
			}
		}
		_ = f.Close()
	}
	slices.SortFunc(all, func(a, b transition) int { return int(a.mono - b.mono) })
	var gaps []time.Duration
	for i := 1; i < len(all); i++ {
		if !all[i-1].started && all[i].started {
			gaps = append(gaps, time.Duration(all[i].mono-all[i-1].mono))
		}
	}
	return gaps, nil
}

// crash kills the leader with SIGKILL, reads the lease's remaining PTTL at
// once (the dead leader cannot extend it), and compares the moment the
// follower starts leading with the lease's expiry.
func crash(ctx context.Context, baton, dir, addr string, rdb *redis.Client, n int, ttl time.Duration) ([]time.Duration, error) {
	name := lockName + "-crash"
	lock, err := redislock.New(rdb, name, redislock.Options{})
	if err != nil {
		return nil, err
	}
	leaseKey, _, _ := lock.Keys()
	var overs []time.Duration
	var standby *proc.Sidecar
	defer func() {
		if standby != nil {
			standby.Kill()
		}
	}()
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		if standby == nil {
			if standby, err = proc.StartSidecar(baton, dir, id, addr, name, "--lease-ttl", ttl.String()); err != nil {
				return nil, err
			}
			if err := standby.WaitReady(ctx); err != nil {
				return nil, err
			}
			continue
		}
		leader := standby
		if _, err := leader.Leader(ctx, 10*time.Second); err != nil {
			return nil, err
		}
		if standby, err = proc.StartSidecar(baton, dir, id, addr, name, "--lease-ttl", ttl.String()); err != nil {
			return nil, err
		}
		if err := standby.WaitReady(ctx); err != nil {
			return nil, err
		}
		if err := waitHolder(ctx, standby, leader.Identity); err != nil {
			return nil, err
		}
		// Let the leader's renew timer sit at a random phase.
		time.Sleep(time.Duration(i%7) * ttl / 7)
		leader.Kill()
		mono := monoNow()
		pttl, err := rdb.PTTL(ctx, leaseKey).Result()
		if err != nil {
			return nil, err
		}
		if pttl <= 0 {
			continue // expired already: nothing to measure
		}
		expiry := mono + int64(pttl)
		st, err := standby.Leader(ctx, 10*time.Second)
		if err != nil || !st.Leader {
			return nil, fmt.Errorf("standby did not take over: %v", err)
		}
		started, err := lastStart(filepath.Join(dir, standby.Identity+".log"))
		if err != nil {
			return nil, err
		}
		overs = append(overs, time.Duration(started-expiry))
	}
	return overs, nil
}

func lastStart(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var last int64
	for _, l := range strings.Split(string(b), "\n") {
		var line struct {
			Msg  string `json:"msg"`
			Mono int64  `json:"mono_ns"`
		}
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "started leading" {
			last = line.Mono
		}
	}
	if last == 0 {
		return 0, fmt.Errorf("no start in %s", path)
	}
	return last, nil
}

type idleResult struct {
	attemptsPerTTL, attemptsPerSec, otherPerSec, rssMiB float64
	other                                               string
}

// idleFollower holds the lock in-process, renewing at TTL/3 as the sidecar
// would, and counts what one idle sidecar follower sends to Redis.
func idleFollower(ctx context.Context, baton, dir, addr string, rdb *redis.Client, ttl, window time.Duration) (idleResult, error) {
	var r idleResult
	name := lockName + "-idle"
	lock, err := redislock.New(rdb, name, redislock.Options{})
	if err != nil {
		return r, err
	}
	lease, err := lock.TryAcquire(ctx, "holder", ttl)
	if err != nil {
		return r, err
	}
	renews := 0
	stopRenew := make(chan struct{})
	renewDone := make(chan error, 1)
	go func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stopRenew:
				renewDone <- nil
				return
			case <-t.C:
				if err := lease.Renew(ctx); err != nil {
					renewDone <- err
					return
				}
				renews++
			}
		}
	}()
	f, err := proc.StartSidecar(baton, dir, "idle", addr, name, "--lease-ttl", ttl.String())
	if err != nil {
		return r, err
	}
	defer f.Kill()
	if err := f.WaitReady(ctx); err != nil {
		return r, err
	}
	time.Sleep(ttl) // settle into the steady state
	before, err := commandstats(ctx, rdb)
	if err != nil {
		return r, err
	}
	renewsBefore := renews
	time.Sleep(window)
	after, err := commandstats(ctx, rdb)
	if err != nil {
		return r, err
	}
	close(stopRenew)
	if err := <-renewDone; err != nil {
		return r, fmt.Errorf("holder's renew: %w", err)
	}
	ownRenews := renews - renewsBefore
	// The follower's lock attempts are the EVALSHA calls that were not the
	// holder's renewals; this process's own INFO calls are excluded.
	evals := after["evalsha"] + after["eval"] - before["evalsha"] - before["eval"]
	attempts := float64(int(evals) - ownRenews)
	r.attemptsPerSec = attempts / window.Seconds()
	r.attemptsPerTTL = attempts / (window.Seconds() / ttl.Seconds())
	// Redis also counts the commands that scripts call; only commands sent
	// over the wire are the follower's load.
	inScripts := map[string]bool{"type": true, "hmget": true, "pttl": true, "pexpire": true, "get": true,
		"set": true, "time": true, "hset": true, "del": true, "publish": true}
	var others []string
	var otherTotal float64
	for cmd, v := range after {
		if d := v - before[cmd]; d > 0 && cmd != "evalsha" && cmd != "eval" && cmd != "info" && !inScripts[cmd] {
			others = append(others, fmt.Sprintf("%s %d", cmd, int(d)))
			otherTotal += d
		}
	}
	slices.Sort(others)
	r.other = strings.Join(others, ", ")
	if r.other == "" {
		r.other = "none"
	}
	r.otherPerSec = otherTotal / window.Seconds()
	rss, _, err := proc.RSS(f.PID())
	r.rssMiB = float64(rss) / (1 << 20)
	return r, err
}

func commandstats(ctx context.Context, rdb *redis.Client) (map[string]float64, error) {
	s, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, l := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out, nil
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func msf(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func cpus() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return 0
	}
	return set.Count()
}
