package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
	"github.com/baton-dev/baton/pkg/runs"
)

// The schedule scene: three `baton run --schedule '@every 2s'` replicas of
// one shell script. Each window runs the script once, on one replica;
// kill -9 of the runner mid-run gets the window retried once by another
// replica, once the dead attempt's lease could have expired; the job's
// record holds every window. The demo checks all three as it goes.

const (
	schedJob   = "window-report"
	schedSpec  = "@every 2s"
	schedEvery = 2 * time.Second
	// schedTTL: a retry after kill -9 starts within a lease TTL of the
	// kill, and the script's 0.4 s then still end well inside the window.
	schedTTL = 800 * time.Millisecond
	// schedKillAfter is when the runner is killed, after its script
	// began: mid-run, with 0.3 s to spare on a busy machine.
	schedKillAfter = 100 * time.Millisecond
	// schedWait bounds each wait for the scene's next step.
	schedWait = 4 * schedEvery
)

// windowScript is the scheduled job: an unmodified script that reads its
// window and attempt from baton's environment. Its lines are parsed by
// parseJobLine.
const windowScript = `echo "window $BATON_RUN_WINDOW attempt $BATON_RUN_ATTEMPT fence $BATON_FENCE pid $$: working 0.4 s"
sleep 0.4
echo "window $BATON_RUN_WINDOW attempt $BATON_RUN_ATTEMPT fence $BATON_FENCE pid $$: done"
`

// schedReplica is one `baton run --schedule` process.
type schedReplica struct {
	id     string
	cmd    *exec.Cmd
	probe  *sidecartest.Sidecar // for its /readyz only
	exited chan struct{}
}

// startScheduled starts replica id; its job's lines go to events.
func startScheduled(ctx context.Context, baton, dir, redisAddr, id string, events chan<- schedEvent, out *sync.Mutex) (*schedReplica, error) {
	probePort, err := redistest.FreeLoopbackPort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// A pipe of its own, not StdoutPipe: the job may outlive baton (until
	// its guard kills it), and Wait must not close its output on the demo.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pw.Close()
	probe := "127.0.0.1:" + strconv.Itoa(probePort)
	cmd := exec.Command(baton, "run", "--lock", schedJob, "--identity", id, "--redis-addr", redisAddr,
		"--api-addr", "127.0.0.1:0", "--probe-addr", probe, "--kube", "false", "--log-format", "text",
		"--schedule", schedSpec, "--lease-ttl", schedTTL.String(),
		"--", "sh", "-c", windowScript)
	cmd.Stdout, cmd.Stderr = pw, logf
	if err := cmd.Start(); err != nil {
		_ = pr.Close()
		return nil, err
	}
	r := &schedReplica{id: id, cmd: cmd, probe: &sidecartest.Sidecar{Identity: id, ProbeURL: "http://" + probe}, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.exited) }()
	go readJobLines(ctx, pr, id, events, out)
	return r, nil
}

// runScheduled shows schedule mode. It fails when a window ran twice to
// success or its attempts overlapped, when the kill -9 did not get the
// window retried once, or when the record misses a window.
func runScheduled(ctx context.Context, baton, dir string, redisSrv *redistest.Process) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out sync.Mutex
	events := make(chan schedEvent, 16)
	replicas := map[string]*schedReplica{}
	defer func() {
		for _, r := range replicas {
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	}()
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("sched-%d", i)
		r, err := startScheduled(ctx, baton, dir, redisSrv.Addr(), id, events, &out)
		if err != nil {
			return err
		}
		replicas[id] = r
	}
	for id, r := range replicas {
		if err := r.probe.WaitReady(ctx); err != nil {
			return fmt.Errorf("%w (log: %s/%s.log)", err, dir, id)
		}
	}
	say("schedule mode: 3 replicas of `baton run --schedule '%s' --lease-ttl %v -- sh -c '…'`: each 2 s window runs the script once, on one replica, on Redis's clock", schedSpec, schedTTL)

	w := newWindowWatch(events)
	for n := 0; n < 2; {
		e, err := w.next(ctx, schedWait)
		if err != nil {
			return err
		}
		if e.kind == jobDone {
			n++
		}
	}
	if err := killRunner(ctx, w, replicas); err != nil {
		return err
	}
	var last schedEvent
	for n := 0; n < 2; {
		e, err := w.next(ctx, schedWait)
		if err != nil {
			return err
		}
		if e.kind == jobDone {
			n, last = n+1, e
		}
	}

	client := redis.NewClient(&redis.Options{Addr: redisSrv.Addr()})
	defer client.Close()
	job, err := runs.New(client, schedJob, runs.Options{})
	if err != nil {
		return err
	}
	// Stopped between windows, after the last success is recorded: a
	// replica stopped mid-run would fail its attempt.
	if err := waitRecorded(ctx, job, last.window); err != nil {
		return err
	}
	for id, r := range replicas {
		if id == w.victim {
			continue
		}
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(schedWait):
			return fmt.Errorf("%s did not exit within %v of SIGTERM", id, schedWait)
		}
		if code := r.cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("%s exited with code %d after SIGTERM between windows, want 0", id, code)
		}
	}
	say("SIGTERM to the other replicas between windows: both exited with code 0")
	info, err := job.Inspect(ctx)
	if err != nil {
		return fmt.Errorf("reading the job's record: %w", err)
	}
	return checkRecord(info, w, last.window)
}

// killRunner kills -9 the replica that runs the next window's first
// attempt, mid-run, and follows the window until another replica's retry,
// attempt 2, has succeeded: the killed job must be gone first.
func killRunner(ctx context.Context, w *windowWatch, replicas map[string]*schedReplica) error {
	var v schedEvent
	for v.kind != jobStarted || v.attempt != 1 {
		var err error
		if v, err = w.next(ctx, schedWait); err != nil {
			return err
		}
	}
	pause(ctx, schedKillAfter)
	killed := time.Now()
	if err := replicas[v.replica].cmd.Process.Kill(); err != nil {
		return err
	}
	w.victim, w.killed = v.replica, v
	say("kill -9 %s, the runner of window %s, mid-run: %.1f ms after its script began (sh, pid %d)", v.replica, v.window, ms(killed.Sub(v.at)), v.pid)
	go watchGone(ctx, v, w.events)
	var gone bool
	for {
		e, err := w.next(ctx, schedWait)
		if err != nil {
			return err
		}
		switch {
		case e.window != v.window:
			return fmt.Errorf("window %s began before window %s was retried (%s, attempt %d): no retry inside the window", e.window, v.window, e.replica, e.attempt)
		case e.kind == jobGone && e.pid == v.pid:
			if e.err != nil {
				return e.err
			}
			gone = true
			say("%s's job (pid %d) is gone %.1f ms after the kill: it dies with baton (the parent-death signal, and its exec guard kills its process group)", v.replica, v.pid, ms(e.at.Sub(killed)))
		case e.kind == jobDone && e.replica == v.replica:
			return fmt.Errorf("window %s: %s's job finished before the kill took effect (a busy machine?): nothing to retry", v.window, v.replica)
		case e.kind == jobStarted:
			if !gone || e.attempt != 2 || e.replica == v.replica {
				return fmt.Errorf("window %s: attempt %d started on %s, want attempt 2 on another replica after the killed job is gone", e.window, e.attempt, e.replica)
			}
			w.retry = e
			say("window %s retried by %s, attempt %d (BATON_RUN_ATTEMPT=%d), %.1f ms after the kill: once the dead attempt's lease (TTL %v) could have expired, and not before",
				e.window, e.replica, e.attempt, e.attempt, ms(e.at.Sub(killed)), schedTTL)
		case e.kind == jobDone:
			return nil
		}
	}
}

// watchGone reports on events when the job of v has exited (a zombie
// counts), or an error when it is still alive after schedWait.
func watchGone(ctx context.Context, v schedEvent, events chan<- schedEvent) {
	e := schedEvent{kind: jobGone, replica: v.replica, window: v.window, attempt: v.attempt, pid: v.pid}
	deadline := time.Now().Add(schedWait)
	for alive(v.pid) {
		if time.Now().After(deadline) {
			e.err = fmt.Errorf("%s's job (pid %d) is still alive %v after the kill: its exec guard did not kill it", v.replica, v.pid, schedWait)
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.at = time.Now()
	select {
	case events <- e:
	case <-ctx.Done():
	}
}

// waitRecorded waits until the record holds window's success.
func waitRecorded(ctx context.Context, job *runs.Job, window string) error {
	ctx, cancel := context.WithTimeout(ctx, schedWait)
	defer cancel()
	watcher, err := job.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watching the job: %w", err)
	}
	defer watcher.Close()
	for {
		info, err := job.Inspect(ctx)
		if err != nil {
			return fmt.Errorf("reading the job's record: %w", err)
		}
		if s := info.LastSuccess; s != nil && s.Window == window {
			return nil
		}
		if err := watcher.Wait(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("window %s's success is not in the record: %w", window, err)
		}
	}
}
