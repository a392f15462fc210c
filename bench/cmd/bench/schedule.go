package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/baton-dev/baton/bench/internal/procstat"
	"github.com/baton-dev/baton/bench/internal/stats"
)

// The schedule step: `baton run --schedule` replicas whose job,
// bench/cmd/runstamp, stamps its start on the wall clock. Redis runs on
// this machine, so its TIME and the wall clock are one clock, CLOCK_REALTIME;
// the step still measures their offset once and corrects by it.

// scheduleLeaseTTL is the run's lease: the job ends within milliseconds,
// so it is never renewed; it only has to outlast a busy machine's hiccups.
const scheduleLeaseTTL = 2 * time.Second

// runStampEnv names the file the jobs append their stamps to.
const runStampEnv = "RUNSTAMP_FILE"

// scheduleWarmup is the whole windows left out after the replicas are up:
// their first claims load the scripts (NOSCRIPT, then EVAL) and dial the
// pub/sub connection.
const scheduleWarmup = 2

// ScheduleResult holds the figures of schedule mode.
type ScheduleResult struct {
	Every    string `json:"every"`
	LeaseTTL string `json:"lease_ttl"`
	// ClockOffset is Redis TIME minus the wall clock, read once with the
	// round trip of least delay; ClockBound is half that round trip, the
	// reading's uncertainty. Latencies are corrected by ClockOffset.
	ClockOffset time.Duration    `json:"clock_offset_ns"`
	ClockBound  time.Duration    `json:"clock_bound_ns"`
	Phases      []*SchedulePhase `json:"phases"`
	LoadAvgBeg  string           `json:"loadavg_start"`
	LoadAvgEnd  string           `json:"loadavg_end"`
}

// SchedulePhase is one run of N replicas over consecutive windows.
type SchedulePhase struct {
	Replicas int  `json:"replicas"`
	Monitor  bool `json:"monitor"` // Redis MONITOR counted the commands
	Windows  int  `json:"windows"`
	// Missed are windows without a start of the job; Retried, windows with
	// more than one.
	Missed  int `json:"missed"`
	Retried int `json:"retried"`
	// Latency is, per window, its start (Redis TIME) to the job's start
	// stamp. It splits into Wake (the start to the claim's Redis TIME:
	// the timer's wake-up and the claim's send), Claim (that to the
	// runner's "running the window's job" line: the claim's reply), Spawn
	// (that to "child started": the guard's and the job's fork and exec)
	// and Job (that to the stamp: the job's own runtime start).
	Latency stats.Summary `json:"latency"`
	Wake    stats.Summary `json:"wake"`
	Claim   stats.Summary `json:"claim"`
	Spawn   stats.Summary `json:"spawn"`
	Job     stats.Summary `json:"job"`
	// Commands is nil when the phase ran without MONITOR.
	Commands *ScheduleCommands `json:"commands,omitempty"`
}

// runScheduleStep measures schedule mode and prints its table on stdout.
func runScheduleStep(ctx context.Context, e *env, res *Results) error {
	cfg := e.cfg
	s := &ScheduleResult{Every: cfg.scheduleEvery.String(), LeaseTTL: scheduleLeaseTTL.String(), LoadAvgBeg: procstat.LoadAvg()}
	child, err := buildBenchProgram(ctx, cfg, e.dir, "runstamp")
	if err != nil {
		return err
	}
	if s.ClockOffset, s.ClockBound, err = e.clockOffset(ctx); err != nil {
		return err
	}
	phases := []struct {
		n, windows int
		monitor    bool
	}{{cfg.scheduleLatencyReplicas, cfg.scheduleWindows, false}}
	for _, n := range cfg.scheduleReplicas {
		phases = append(phases, struct {
			n, windows int
			monitor    bool
		}{n, cfg.scheduleCountWindows, true})
	}
	for _, ph := range phases {
		p, err := schedulePhase(ctx, e, child, s.ClockOffset, ph.n, ph.windows, ph.monitor)
		if err != nil {
			return fmt.Errorf("%d replicas: %w", ph.n, err)
		}
		e.log.Info("schedule phase done", "replicas", ph.n, "windows", p.Windows, "monitor", ph.monitor)
		s.Phases = append(s.Phases, p)
	}
	s.LoadAvgEnd = procstat.LoadAvg()
	res.Schedule = s
	fmt.Printf("\nbaton schedule mode (redis %s, %d CPUs, load %s at the start, %s at the end; Redis TIME − wall clock %s ± %s, corrected)\n\n%s",
		res.Meta.RedisVersion, res.Meta.CPUs, s.LoadAvgBeg, s.LoadAvgEnd, fmtMs(s.ClockOffset), fmtMs(s.ClockBound), scheduleTable(s))
	return nil
}

// buildBenchProgram builds bench/cmd/<name> into dir.
func buildBenchProgram(ctx context.Context, cfg *config, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/"+name)
	cmd.Dir = filepath.Join(cfg.batonSrc, "bench")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s in %s: %w\n%s", name, cmd.Dir, err, out)
	}
	return bin, nil
}

// clockOffset reads Redis TIME 20 times and returns, from the read with
// the shortest round trip, Redis TIME minus the wall clock at the middle
// of the call, and half that round trip.
func (e *env) clockOffset(ctx context.Context) (offset, bound time.Duration, err error) {
	best := time.Duration(-1)
	for range 20 {
		before := time.Now()
		t, err := e.admin.Time(ctx).Result()
		rtt := time.Since(before)
		if err != nil {
			return 0, 0, fmt.Errorf("redis TIME: %w", err)
		}
		if best < 0 || rtt < best {
			best, offset = rtt, t.Sub(before.Add(rtt/2))
		}
	}
	return offset, best / 2, nil
}

// schedReplica is one `baton run --schedule` process.
type schedReplica struct {
	id, logPath string
	cmd         *exec.Cmd
	exited      chan struct{}
}

// launchScheduled starts replica id of job with child as the job, which
// appends its stamps to stamps.
func (e *env) launchScheduled(job, id, child, stamps string) (*schedReplica, error) {
	r := &schedReplica{id: id, logPath: filepath.Join(e.dir, id+".log"), exited: make(chan struct{})}
	logf, err := os.Create(r.logPath)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(e.bin, "run", "--schedule", "@every "+e.cfg.scheduleEvery.String(),
		"--lock", job, "--identity", id, "--redis-addr", e.redis.Addr(), "--api-addr", "127.0.0.1:0", "--probe-addr", "127.0.0.1:0",
		"--lease-ttl", scheduleLeaseTTL.String(), "--kube", "false", "--", child)
	r.cmd.Env = append(os.Environ(), runStampEnv+"="+stamps)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s run --schedule: %w", e.bin, err)
	}
	go func() { _ = r.cmd.Wait(); _ = logf.Close(); close(r.exited) }()
	return r, nil
}

// stop sends SIGTERM, and SIGKILL if the process has not exited within d.
func (r *schedReplica) stop(d time.Duration) {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.exited:
	case <-t.C:
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// stopAll stops the replicas at once.
func stopAll(rs []*schedReplica) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { r.stop(5 * time.Second) })
	}
	wg.Wait()
}

// schedulePhase runs n replicas of one job over scheduleWarmup windows and
// then windows more, and measures those: the latency from each window's
// start to its job's start, and with monitor the commands of each replica.
func schedulePhase(ctx context.Context, e *env, child string, offset time.Duration, n, windows int, monitor bool) (*SchedulePhase, error) {
	period := e.cfg.scheduleEvery
	job := fmt.Sprintf("sched-%d", n)
	if monitor {
		job += "-monitor"
	}
	stamps := filepath.Join(e.dir, job+".stamps")
	tally := newCmdTally(period)
	var mon *monitorConn
	if monitor {
		var err error
		// Before the replicas dial: their connections name themselves
		// in their first command.
		if mon, err = startMonitor(ctx, e.redis.Addr(), tally); err != nil {
			return nil, err
		}
		defer mon.close()
	}
	rs := make([]*schedReplica, 0, n)
	defer func() { stopAll(rs) }()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", job, i)
		r, err := e.launchScheduled(job, ids[i], child, stamps)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if err := waitLogged(ctx, rs, "baton starting in schedule mode", 30*time.Second); err != nil {
		return nil, err
	}
	redisNow := func() time.Time { return time.Now().Add(offset) }
	first := redisNow().Truncate(period).Add((scheduleWarmup + 1) * period)
	last := first.Add(time.Duration(windows-1) * period)
	// The last window's traffic is over well before the middle of the
	// window after it, where cmdTally's count of it ends.
	if err := sleep(ctx, last.Add(period/2).Sub(redisNow())); err != nil {
		return nil, err
	}
	if mon != nil {
		if err := mon.finish(ctx, e.admin, 10*time.Second); err != nil {
			return nil, err
		}
	}
	ss, err := readRunStamps(stamps)
	if err != nil {
		return nil, err
	}
	logs := map[int64]windowLog{}
	for _, r := range rs {
		if err := readWindowLogs(r.logPath, logs); err != nil {
			return nil, err
		}
	}
	p, runners := phaseFigures(ss, logs, offset, first, last, period)
	p.Replicas, p.Monitor = n, monitor
	if monitor {
		p.Commands = tally.perWindow(runners, ids)
	}
	return p, nil
}

// phaseFigures computes a phase's figures from its stamps and its logs for
// the windows first to last, and returns the replica that ran each window
// (by window index, start / period) that ran once.
func phaseFigures(ss []runStamp, logs map[int64]windowLog, offset time.Duration, first, last time.Time, period time.Duration) (*SchedulePhase, map[int64]string) {
	p := &SchedulePhase{}
	starts := map[int64][]runStamp{} // by the window's start, Unix ns
	for _, s := range ss {
		if !s.window.Before(first) && !s.window.After(last) {
			starts[s.window.UnixNano()] = append(starts[s.window.UnixNano()], s)
		}
	}
	var lat, wake, claim, spawn, job []time.Duration
	runners := map[int64]string{}
	for w := first; !w.After(last); w = w.Add(period) {
		p.Windows++
		got := starts[w.UnixNano()]
		switch {
		case len(got) == 0:
			p.Missed++
			continue
		case len(got) > 1:
			p.Retried++
		default:
			runners[w.UnixNano()/int64(period)] = got[0].identity
		}
		s := slices.MinFunc(got, func(a, b runStamp) int { return a.attempt - b.attempt })
		started := time.Unix(0, s.wall).Add(offset) // on Redis's clock
		lat = append(lat, started.Sub(w))
		wake = append(wake, s.claim.Sub(w))
		if l, ok := logs[w.UnixNano()]; ok && !l.running.IsZero() && !l.started.IsZero() && s.attempt == 1 {
			claim = append(claim, l.running.Add(offset).Sub(s.claim))
			spawn = append(spawn, l.started.Sub(l.running))
			job = append(job, started.Sub(l.started.Add(offset)))
		}
	}
	p.Latency, p.Wake, p.Claim, p.Spawn, p.Job = stats.Summarize(lat), stats.Summarize(wake),
		stats.Summarize(claim), stats.Summarize(spawn), stats.Summarize(job)
	return p, runners
}

// waitLogged waits until every replica's log holds msg.
func waitLogged(ctx context.Context, rs []*schedReplica, msg string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, r := range rs {
		for {
			b, err := os.ReadFile(r.logPath)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(strconv.Quote(msg))) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: no %q within %v; its log:\n%s", r.id, msg, limit, b)
			}
			if err := sleep(ctx, 10*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}
