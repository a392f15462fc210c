package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/baton-dev/baton/bench/internal/procstat"
	"github.com/baton-dev/baton/bench/internal/stats"
	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// The exec step's timings. The lease TTL only has to outlast a busy
// machine's hiccups between hand-offs: a graceful hand-off never waits for
// it. The kill grace must stay below TTL - renew deadline (TTL/3); the
// child exits at once on SIGTERM, so it is never used up.
const (
	execLeaseTTL  = 2 * time.Second
	execKillGrace = 500 * time.Millisecond
	// execSettle is how long the start-up replica runs its child before
	// its RSS is read: a few renewals, so the reading is the steady one.
	execSettle = 3 * time.Second
)

// stampsEnv is the variable that names execchild's stamps file (not
// BATON_*: baton keeps its own configuration from the job).
const stampsEnv = "EXECCHILD_STAMPS"

// ExecResult holds the figures of exec mode, `baton run -- CMD`, with
// bench/cmd/execchild as the job: it stamps its start and its SIGTERM on
// CLOCK_MONOTONIC, the clock of baton's mono_ns log fields.
type ExecResult struct {
	LeaseTTL  string `json:"lease_ttl"`
	KillGrace string `json:"kill_grace"`
	// Handoff is, per SIGTERM of the leading baton, the old child's stop
	// stamp (in its SIGTERM handler, right before it exits) to the new
	// child's start stamp under the other replica.
	Handoff stats.Summary `json:"handoff"`
	// ChildExit, HandoffLock and HandoffSpawn split each hand-off: the old
	// child's stop stamp to baton's "child stopped" line (reaped, group
	// gone), put on CLOCK_MONOTONIC through the "stopped leading" line;
	// that to the new leader's "started leading" stamp (the release and
	// the follower's acquire); and that to the new child's start stamp
	// (fork, exec and the child's runtime start). BeyondExit is the last
	// two: the hand-off less the child's own exit.
	ChildExit    stats.Summary `json:"child_exit"`
	HandoffLock  stats.Summary `json:"handoff_lock"`
	HandoffSpawn stats.Summary `json:"handoff_spawn"`
	BeyondExit   stats.Summary `json:"beyond_exit"`
	// KillLatency is, on the same hand-offs, the leading baton's "stopped
	// leading" stamp to its child's stop stamp. The elector cancels the
	// term before it reads the clock for the log line, so a sample can be
	// slightly negative.
	KillLatency stats.Summary `json:"kill_latency"`
	// Startup is CLOCK_MONOTONIC right before `baton run` is started on an
	// uncontended lock that a previous run released to its child's start
	// stamp; FirstStart is the same on a lock Redis has never seen, whose
	// first term waits one lease TTL.
	Startup    stats.Summary `json:"startup"`
	FirstStart time.Duration `json:"first_start_ns"`
	// RSS is the VmRSS of `baton run` (not its child) after it has led
	// for execSettle.
	RSS        int64  `json:"rss_bytes"`
	LoadAvgBeg string `json:"loadavg_start"`
	LoadAvgEnd string `json:"loadavg_end"`
}

// runExec measures exec mode and prints its table on stdout.
func runExec(ctx context.Context, e *env, res *Results) error {
	cfg := e.cfg
	x := &ExecResult{LeaseTTL: execLeaseTTL.String(), KillGrace: execKillGrace.String(), LoadAvgBeg: procstat.LoadAvg()}
	child, err := buildExecChild(ctx, cfg, e.dir)
	if err != nil {
		return err
	}
	if err := execHandoffs(ctx, e, child, x, cfg.execHandoffs); err != nil {
		return fmt.Errorf("hand-offs: %w", err)
	}
	e.log.Info("exec hand-offs done", "n", x.Handoff.N)
	if err := execStartups(ctx, e, child, x, cfg.execStarts); err != nil {
		return fmt.Errorf("start-up: %w", err)
	}
	x.LoadAvgEnd = procstat.LoadAvg()
	res.Exec = x
	fmt.Printf("\nbaton exec mode (redis %s, %d CPUs, load %s at the start, %s at the end)\n\n%s",
		res.Meta.RedisVersion, res.Meta.CPUs, x.LoadAvgBeg, x.LoadAvgEnd, execTable(x))
	return nil
}

// buildExecChild builds bench/cmd/execchild into dir.
func buildExecChild(ctx context.Context, cfg *config, dir string) (string, error) {
	return buildBenchProgram(ctx, cfg, dir, "execchild")
}

// execReplica is one `baton run` process with execchild as its job.
type execReplica struct {
	id, lock string
	// api makes the API calls only; the process is cmd.
	api        *sidecartest.Sidecar
	cmd        *exec.Cmd
	logPath    string
	stampsPath string
	exited     chan struct{}
}

// launchExec starts `baton run` as id on lock with child as the job. Its
// output is appended to <dir>/<id>.log and the child's stamps to
// <dir>/<id>.stamps, so a restarted identity keeps both of the one before.
func (e *env) launchExec(id, lock, child string) (*execReplica, error) {
	apiPort, err := redistest.FreeLoopbackPort()
	if err != nil {
		return nil, err
	}
	probePort, err := redistest.FreeLoopbackPort()
	if err != nil {
		return nil, err
	}
	r := &execReplica{
		id: id, lock: lock,
		api:        &sidecartest.Sidecar{Identity: id, APIURL: "http://127.0.0.1:" + strconv.Itoa(apiPort)},
		logPath:    filepath.Join(e.dir, id+".log"),
		stampsPath: filepath.Join(e.dir, id+".stamps"),
		exited:     make(chan struct{}),
	}
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(e.bin, "run", "--lock", lock, "--identity", id, "--redis-addr", e.redis.Addr(),
		"--api-addr", "127.0.0.1:"+strconv.Itoa(apiPort), "--probe-addr", "127.0.0.1:"+strconv.Itoa(probePort),
		"--lease-ttl", execLeaseTTL.String(), "--kill-grace", execKillGrace.String(), "--kube", "false",
		"--", child)
	r.cmd.Env = append(os.Environ(), stampsEnv+"="+r.stampsPath)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s run: %w", e.bin, err)
	}
	go func() { _ = r.cmd.Wait(); _ = logf.Close(); close(r.exited) }()
	return r, nil
}

// waitExit waits up to limit for the process to exit.
func (r *execReplica) waitExit(ctx context.Context, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-r.exited:
		return nil
	case <-t.C:
		b, _ := os.ReadFile(r.logPath)
		return fmt.Errorf("%s did not exit within %v after SIGTERM; its log:\n%s", r.id, limit, b)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop sends SIGTERM, and SIGKILL if the process has not exited within d.
func (r *execReplica) stop(d time.Duration) {
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

// runningChild reports whether the replica's child is running: its last
// stamp is a start.
func (r *execReplica) runningChild() (bool, int, error) {
	ss, err := readStamps(r.stampsPath)
	if err != nil {
		return false, 0, err
	}
	return len(ss) > 0 && ss[len(ss)-1].start, len(ss), nil
}

// execHandoffs runs two `baton run` replicas on one lock and SIGTERMs the
// leading one n times, restarting it as the follower each time.
func execHandoffs(ctx context.Context, e *env, child string, x *ExecResult, n int) error {
	const lock = "exec-handoff"
	channel := "baton:{" + lock + "}:released"
	var rs [2]*execReplica
	defer func() {
		for _, r := range rs {
			if r != nil {
				r.stop(5 * time.Second)
			}
		}
	}()
	for i := range rs {
		r, err := e.launchExec(fmt.Sprintf("%s-%d", lock, i), lock, child)
		if err != nil {
			return err
		}
		rs[i] = r
	}
	var handoff, lockPart, spawn, kill, exitPart, beyond []time.Duration
	for range n {
		leader, err := execLeader(ctx, rs)
		if err != nil {
			return err
		}
		follower := 1 - leader
		// The follower waits on the release channel: the hand-off is then
		// the graceful one, not a poll.
		if err := e.waitNumSub(ctx, channel, 1, 10*time.Second); err != nil {
			return err
		}
		_, had, err := rs[follower].runningChild()
		if err != nil {
			return err
		}
		if err := e.pause(ctx, 20*time.Millisecond); err != nil {
			return err
		}
		old := rs[leader]
		if err := old.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		if err := old.waitExit(ctx, 10*time.Second); err != nil {
			return err
		}
		next, err := waitStamps(ctx, rs[follower].stampsPath, had+1, 10*time.Second)
		if err != nil {
			return err
		}
		started := next[len(next)-1]
		if !started.start {
			return fmt.Errorf("%s: last child stamp is a stop, want the new child's start", rs[follower].id)
		}
		prev, err := readStamps(old.stampsPath)
		if err != nil {
			return err
		}
		if len(prev) == 0 || prev[len(prev)-1].start {
			return fmt.Errorf("%s exited, and its child stamped no stop", old.id)
		}
		stopped := prev[len(prev)-1]
		ended, err := lastStop(old.logPath)
		if err != nil {
			return err
		}
		// The new term's stamp is after the old child's stop: a restarted
		// identity's log holds its earlier terms too.
		term, err := startAfter(ctx, rs[follower].logPath, stopped.mono)
		if err != nil {
			return err
		}
		reaped, err := reapedMono(old.logPath)
		if err != nil {
			return err
		}
		handoff = append(handoff, time.Duration(started.mono-stopped.mono))
		exitPart = append(exitPart, time.Duration(reaped-stopped.mono))
		beyond = append(beyond, time.Duration(started.mono-reaped))
		lockPart = append(lockPart, time.Duration(term-reaped))
		spawn = append(spawn, time.Duration(started.mono-term))
		kill = append(kill, time.Duration(stopped.mono-ended))
		if rs[leader], err = e.launchExec(old.id, lock, child); err != nil {
			rs[leader] = nil
			return err
		}
	}
	x.Handoff, x.KillLatency = stats.Summarize(handoff), stats.Summarize(kill)
	x.HandoffLock, x.HandoffSpawn = stats.Summarize(lockPart), stats.Summarize(spawn)
	x.ChildExit, x.BeyondExit = stats.Summarize(exitPart), stats.Summarize(beyond)
	return nil
}

// execLeader waits until exactly one replica's child runs and returns it.
func execLeader(ctx context.Context, rs [2]*execReplica) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var running []int
		for i, r := range rs {
			on, _, err := r.runningChild()
			if err != nil {
				return 0, err
			}
			if on {
				running = append(running, i)
			}
		}
		if len(running) == 2 {
			return 0, fmt.Errorf("both replicas' children run at once")
		}
		if len(running) == 1 {
			return running[0], nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no replica's child ran within 30s")
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// execStartups starts `baton run` n+1 times on one lock, one after the
// other, and times each launch to its child's start stamp. The first start
// finds a lock Redis has never seen, whose first term waits one lease TTL
// (the unknown-store rule): it is FirstStart. The n others find the term
// record the previous one's release left, as every restart does: they are
// Startup. The first one's RSS is read once it has led for execSettle.
func execStartups(ctx context.Context, e *env, child string, x *ExecResult, n int) error {
	const lock = "exec-start"
	var lat []time.Duration
	for i := range n + 1 {
		id := fmt.Sprintf("exec-start-%d", i)
		t0 := clocks.MonotonicNS()
		r, err := e.launchExec(id, lock, child)
		if err != nil {
			return err
		}
		ss, err := waitStamps(ctx, r.stampsPath, 1, execLeaseTTL+20*time.Second)
		if err == nil && i == 0 {
			if err = sleep(ctx, execSettle); err == nil {
				x.RSS, _, err = procstat.RSS(r.cmd.Process.Pid)
			}
		}
		r.stop(5 * time.Second)
		if err != nil {
			return err
		}
		if d := time.Duration(ss[0].mono - t0); i == 0 {
			x.FirstStart = d
		} else {
			lat = append(lat, d)
		}
	}
	x.Startup = stats.Summarize(lat)
	return nil
}

// execTable is the exec-mode figures as a Markdown table with targets.
func execTable(x *ExecResult) string {
	var b strings.Builder
	q := func(s stats.Summary) string {
		return fmt.Sprintf("p50 %s, p99 %s, max %s", fmtMs(s.P50), fmtMs(s.P99), fmtMs(s.Max))
	}
	fmt.Fprintf(&b, "| Figure | Measured | Target |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| Hand-off child to child on SIGTERM of the leading `baton run` (old child's SIGTERM stamp to the new child's start stamp), n=%d | %s | |\n", x.Handoff.N, q(x.Handoff))
	fmt.Fprintf(&b, "| … the child's own exit: its SIGTERM stamp to baton's \"child stopped\" (reaped, group gone) | %s | |\n", q(x.ChildExit))
	fmt.Fprintf(&b, "| … beyond the child's exit: \"child stopped\" to the new child's start stamp | %s | p99 ≤ 10 ms |\n", q(x.BeyondExit))
	fmt.Fprintf(&b, "| … of which: \"child stopped\" to the new leader's \"started leading\" stamp (release, acquire) | %s | |\n", q(x.HandoffLock))
	fmt.Fprintf(&b, "| … of which: \"started leading\" to the new child's start stamp (fork, exec, child runtime start) | %s | |\n", q(x.HandoffSpawn))
	fmt.Fprintf(&b, "| Kill latency: \"stopped leading\" stamp to the child's SIGTERM handler, n=%d | %s | p99 ≤ 2 ms |\n", x.KillLatency.N, q(x.KillLatency))
	fmt.Fprintf(&b, "| Start-up: launch of `baton run` on an uncontended lock to the child's start stamp, n=%d | %s | |\n", x.Startup.N, q(x.Startup))
	if x.FirstStart > 0 { // results from before it was measured lack it
		fmt.Fprintf(&b, "| … on a lock Redis has never seen (its first term waits one lease TTL, %s) | %s | ≤ TTL + 1 s |\n", x.LeaseTTL, fmtMs(x.FirstStart))
	}
	fmt.Fprintf(&b, "| `baton run` RSS with its child running | %.1f MiB | ≤ 30 MiB |\n", float64(x.RSS)/(1<<20))
	return b.String()
}
