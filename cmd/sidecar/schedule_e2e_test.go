//go:build unix

package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
)

// runScript is a scheduled job that logs "run WINDOW ATTEMPT IDENTITY PID"
// to log, then runs then.
func runScript(log jobLog, then string) string {
	return fmt.Sprintf(`echo "run $BATON_RUN_WINDOW $BATON_RUN_ATTEMPT $BATON_IDENTITY $$ $BATON_RUN_JOB $BATON_FENCE $BATON_RUN_ID" >> %s; %s`, log, then)
}

// startScheduled runs `baton run --schedule spec` as id on job.
func startScheduled(t *testing.T, redisAddr, job, id, spec, script string, extra ...string) *execBaton {
	t.Helper()
	return startExec(t, redisAddr, job, id, script, append([]string{"--schedule", spec}, extra...)...)
}

// windowRuns waits until the log has a run of a window at least span after
// the first window logged, and returns the attempts logged per window.
func (l jobLog) windowRuns(t *testing.T, span time.Duration) (first time.Time, runs map[time.Time][][]string) {
	t.Helper()
	for n := 1; ; n++ {
		lines := l.lines(t, "run", n)
		runs = map[time.Time][][]string{}
		first = time.Time{}
		for _, f := range lines {
			w, err := time.Parse(time.RFC3339, f[1])
			if err != nil {
				t.Fatalf("BATON_RUN_WINDOW %q is not RFC 3339: %v", f[1], err)
			}
			if first.IsZero() || w.Before(first) {
				first = w
			}
			runs[w] = append(runs[w], f)
		}
		for w := range runs {
			if w.Sub(first) >= span {
				return first, runs
			}
		}
	}
}

// attempts are the attempts logged for one window, in the log's order.
func attempts(lines [][]string) []string {
	var out []string
	for _, f := range lines {
		out = append(out, f[2])
	}
	return out
}

func TestScheduleUsageErrors(t *testing.T) {
	addr := undialedRedis(t)
	base := []string{"run", "--lock", "j", "--redis-addr", addr}
	pod := map[string]string{"POD_NAME": "p", "POD_NAMESPACE": "ns"}
	for _, tc := range []struct {
		args []string
		want string
		env  map[string]string
	}{
		{[]string{"--schedule", "every minute"}, "--schedule must be a cron expression", nil},
		{[]string{"--schedule", "@every 1500ms"}, "--schedule @every needs a whole number of seconds", nil},
		{[]string{"--schedule", "0 0 30 2 *"}, "--schedule never fires", nil},
		{[]string{"--schedule", "@daily", "--time-zone", "Mars/Olympus"}, "--time-zone must be an IANA time zone", nil},
		{[]string{"--schedule", "@daily", "--max-attempts", "0"}, "--max-attempts must be from 1 to 100 (got 0)", nil},
		{[]string{"--schedule", "@daily", "--max-attempts", "101"}, "--max-attempts must be from 1 to 100 (got 101)", nil},
		{[]string{"--schedule", "@daily", "--catch-up", "all"}, `--catch-up must be none or last (got "all")`, nil},
		{[]string{"--schedule", "@daily", "--attempt-deadline", "-1s"}, "--attempt-deadline must be a whole number of milliseconds", nil},
		{[]string{"--schedule", "@daily", "--on-exit", "restart"}, "--on-exit does not apply with --schedule", nil},
		{[]string{"--schedule", "@daily", "--redis-min-replicas-ack", "1"}, "--redis-min-replicas-ack is not supported with --schedule", nil},
		{[]string{"--schedule", "@daily", "--ready-when", "leader"}, "--ready-when must be connected with --schedule", nil},
		{[]string{"--schedule", "@daily", "--kube", "true"}, "--kube is not supported with --schedule", pod},
		{[]string{"--time-zone", "Europe/Berlin"}, "--time-zone requires --schedule", nil},
		{[]string{"--catch-up", "last"}, "--catch-up requires --schedule", nil},
		{[]string{"--schedule", "@daily", "--kill-grace", "6s"}, "--kill-grace must be greater than 0 and at most 4s", nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append(append(slices.Clone(base), tc.args...), "--", "true")
			var stdout, stderr strings.Builder
			if code := run(args, env(tc.env), &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
	t.Run("missing command", func(t *testing.T) {
		var stdout, stderr strings.Builder
		args := append(slices.Clone(base), "--schedule", "@daily", "--", "/nonexistent/job")
		if code := run(args, env(nil), &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "the command after --") {
			t.Errorf("exit code %d, stderr %q; want %d naming the command", code, stderr.String(), exitUsage)
		}
	})
}

// TestScheduleRunsEachWindowOnce: three replicas of a job every second run
// each window exactly once, at its first attempt, with the run's
// environment.
func TestScheduleRunsEachWindowOnce(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	var a *execBaton
	for _, id := range []string{"a", "b", "c"} {
		b := startScheduled(t, srv.Addr(), "every-second", id, "@every 1s", runScript(log, "true"))
		if id == "a" {
			a = b
		}
	}
	// Six windows, and the seventh started: no attempt of the six is left.
	first, runs := log.windowRuns(t, 6*time.Second)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := call(t, "GET", a.probeURL+path); r.code != 200 {
			t.Errorf("GET %s: %d %s", path, r.code, r.raw)
		}
	}
	for i := range 6 {
		w := first.Add(time.Duration(i) * time.Second)
		got := runs[w]
		if len(got) != 1 || got[0][2] != "1" {
			t.Errorf("window %s ran %d times, attempts %v; want once, attempt 1", w.Format(time.RFC3339), len(got), attempts(got))
			continue
		}
		f := got[0]
		if f[5] != "every-second" || f[6] == "" || len(f[7]) != 32 {
			t.Errorf("run of %s has BATON_RUN_JOB %q, BATON_FENCE %q, BATON_RUN_ID %q", f[1], f[5], f[6], f[7])
		}
	}
}

// TestScheduleRetriesAFailedJob: a job that exits 1 is retried, by any
// replica, up to --max-attempts, and no further.
func TestScheduleRetriesAFailedJob(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	for _, id := range []string{"a", "b", "c"} {
		startScheduled(t, srv.Addr(), "failing", id, "@every 2s", runScript(log, "exit 1"), "--max-attempts", "3")
	}
	first, runs := log.windowRuns(t, 4*time.Second)
	for _, w := range []time.Time{first, first.Add(2 * time.Second)} {
		if got := attempts(runs[w]); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Errorf("window %s ran attempts %v, want [1 2 3]", w.Format(time.RFC3339), got)
		}
	}
}

// TestScheduleRetriesAfterKill9: the replica whose job runs is killed by
// SIGKILL; its job dies with it, and another replica runs the same window
// again, attempt 2, once the dead attempt's lease could have expired and
// not before.
func TestScheduleRetriesAfterKill9(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	script := runScript(log, `if [ "$BATON_RUN_ATTEMPT" = 1 ]; then exec sleep 60; fi`)
	replicas := map[string]*execBaton{}
	for _, id := range []string{"a", "b", "c"} {
		// --lease-ttl 3s: renewals every 1s, so the lease holds at least
		// 2s after the kill.
		replicas[id] = startScheduled(t, srv.Addr(), "killed", id, "@every 5s", script)
	}
	run1 := log.lines(t, "run", 1)[0]
	runner := replicas[run1[3]]
	pid, _ := strconv.Atoi(run1[4])
	if err := runner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	runner.wait(t)
	waitDead(t, pid, "the job of a baton killed by SIGKILL")
	run2 := log.lines(t, "run", 2)[1]
	took := time.Since(killed)
	if run2[1] != run1[1] || run2[2] != "2" || run2[3] == run1[3] {
		t.Fatalf("after the kill: %v, want window %s attempt 2 by another replica", run2, run1[1])
	}
	t.Logf("retried %v after the kill", took)
	if took < 1500*time.Millisecond || took > 5*time.Second {
		t.Errorf("the retry came %v after the kill, want after the lease could expire (2s to 3s)", took)
	}
	// The retrier's /leader tells the lost attempt and the retry; its
	// metrics count the retry's success.
	retrier := replicas[run2[3]]
	await(t, "the retry recorded as the last run, the kill as the last failure", func() bool {
		b := retrier.leader(t)
		return b.LastRun != nil && b.LastRun.RunID == run2[7] && b.LastRun.Status == "succeeded" &&
			b.LastFailure != nil && b.LastFailure.RunID == run1[7] && b.LastFailure.Status == "lost"
	})
	if n := retrier.runs(t, "killed"); n[resultSucceeded] != 1 || n[resultFailed]+n[resultLost]+n[resultCanceled] != 0 {
		t.Errorf("the retrier's baton_runs_total: %v, want one success", n)
	}
}

// TestScheduleRetriesAtOnceAfterSIGTERM: SIGTERM to the replica whose job
// runs stops the job and records the attempt failed, so that another
// replica runs the window again at once, long before the lease would
// expire; the replica exits 0 within its bound.
func TestScheduleRetriesAtOnceAfterSIGTERM(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	script := runScript(log, `if [ "$BATON_RUN_ATTEMPT" = 1 ]; then exec sleep 60; fi`)
	replicas := map[string]*execBaton{}
	for _, id := range []string{"a", "b", "c"} {
		replicas[id] = startScheduled(t, srv.Addr(), "terminated", id, "@every 5s", script, "--lease-ttl", "20s")
	}
	run1 := log.lines(t, "run", 1)[0]
	runner := replicas[run1[3]]
	pid, _ := strconv.Atoi(run1[4])
	if err := runner.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termed := time.Now()
	run2 := log.lines(t, "run", 2)[1]
	took := time.Since(termed)
	if run2[1] != run1[1] || run2[2] != "2" || run2[3] == run1[3] {
		t.Fatalf("after SIGTERM: %v, want window %s attempt 2 by another replica", run2, run1[1])
	}
	t.Logf("retried %v after SIGTERM", took)
	if took > 3*time.Second {
		t.Errorf("the retry came %v after SIGTERM, want at once (the lease holds 20s)", took)
	}
	if code := runner.wait(t); code != 0 {
		t.Errorf("the replica exited with %d after SIGTERM, want 0", code)
	}
	if d := time.Since(termed); d > 5*time.Second {
		t.Errorf("the replica took %v to exit after SIGTERM", d)
	}
	waitDead(t, pid, "the job of a replica stopped by SIGTERM")
}

// TestScheduleCatchUp: windows that passed while no replica was up are
// counted and logged; --catch-up none skips them, --catch-up last runs the
// most recent one once.
func TestScheduleCatchUp(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range []string{catchUpNone, catchUpLast} {
		t.Run(mode, func(t *testing.T) {
			log := newJobLog(t)
			job := "catch-up-" + mode
			a := startScheduled(t, srv.Addr(), job, "a", "@every 1s", runScript(log, "true"))
			w0, err := time.Parse(time.RFC3339, log.lines(t, "run", 1)[0][1])
			if err != nil {
				t.Fatal(err)
			}
			if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			a.wait(t)
			// Three windows pass with no replica up.
			time.Sleep(time.Until(w0.Add(3500 * time.Millisecond)))
			started := time.Now()
			b := startScheduled(t, srv.Addr(), job, "b", "@every 1s", runScript(log, "true"), "--catch-up", mode)
			jobLog(b.logPath).contains(t, `"msg":"windows missed: no replica ran them"`)
			out, err := os.ReadFile(b.logPath)
			if err != nil {
				t.Fatal(err)
			}
			m := missedLogged.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no count of missed windows in the log:\n%s", out)
			}
			missed, _ := strconv.ParseFloat(string(m[1]), 64)
			if got, _ := b.metric(t, fmt.Sprintf(`baton_run_missed_windows_total{job=%q}`, job)); got != missed || missed < 2 {
				t.Errorf("baton_run_missed_windows_total = %v, the log counted %v; want the same, 2 or more", got, missed)
			}
			// The first window that starts after b did has run.
			var late [][]string
			for n := 2; ; n++ {
				lines := log.lines(t, "run", n)
				w, _ := time.Parse(time.RFC3339, lines[n-1][1])
				if w.After(started) {
					late = lines[1 : n-1]
					break
				}
			}
			switch {
			case mode == catchUpNone && len(late) != 0:
				t.Errorf("--catch-up none ran missed windows: %v", late)
			case mode == catchUpLast && (len(late) != 1 || late[0][2] != "1" || late[0][1] != started.UTC().Truncate(time.Second).Format(time.RFC3339)):
				t.Errorf("--catch-up last ran %v, want the window open at the start (%s), once, attempt 1", late, started.UTC().Format(time.RFC3339Nano))
			}
		})
	}
}

// TestScheduleJobLongerThanItsWindow: a job that runs longer than its
// window does not hold the next window up: an idle replica runs it on
// time, and every window runs once.
func TestScheduleJobLongerThanItsWindow(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	for _, id := range []string{"a", "b", "c"} {
		startScheduled(t, srv.Addr(), "long", id, "@every 2s", runScript(log, "sleep 3"), "--log-level", "debug")
	}
	first, runs := log.windowRuns(t, 8*time.Second)
	for i := range 4 {
		w := first.Add(time.Duration(i) * 2 * time.Second)
		if got := runs[w]; len(got) != 1 || got[0][2] != "1" {
			t.Errorf("window %s ran %d times, attempts %v; want once, attempt 1", w.Format(time.RFC3339), len(got), attempts(got))
		}
	}
}

// TestScheduleStopsTheJobWhenRenewalsFail: while Redis does not answer,
// the run's watchdog stops the job at the renew deadline, before the lease
// can expire, and records nothing; once Redis answers and the lease could
// have expired (renewals sent during the pause run at its end, and extend
// it), the window runs again, attempt 2.
func TestScheduleStopsTheJobWhenRenewalsFail(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	const (
		interval = 500 * time.Millisecond
		deadline = 1500 * time.Millisecond
		ttl      = 3 * time.Second
	)
	script := runScript(log, fmt.Sprintf(`if [ "$BATON_RUN_ATTEMPT" = 1 ]; then
trap 'echo "term $(date +%%s%%N)" >> %[1]s; exit 0' TERM
while :; do sleep 0.05; done
fi`, log))
	startScheduled(t, srv.Addr(), "paused", "a", "@every 10s", script, "--lease-ttl", ttl.String(),
		"--renew-interval", interval.String(), "--renew-deadline", deadline.String(), "--kill-grace", "1s")
	run1 := log.lines(t, "run", 1)[0]
	paused := time.Now()
	if err := srv.Client().Do(t.Context(), "CLIENT", "PAUSE", "2500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	termAt, _ := strconv.ParseInt(log.lines(t, "term", 1)[0][1], 10, 64)
	if got, bound := time.Unix(0, termAt).Sub(paused), deadline+200*time.Millisecond; got > bound {
		t.Errorf("SIGTERM reached the job %v after the pause, beyond the renew deadline (%v)", got, bound)
	}
	if got, bound := time.Unix(0, termAt).Sub(paused), ttl-interval; got >= bound {
		t.Errorf("the job stopped %v after the pause, when the lease could have expired (%v)", got, bound)
	}
	run2 := log.lines(t, "run", 2)[1]
	if run2[1] != run1[1] || run2[2] != "2" {
		t.Errorf("after the pause: %v, want window %s attempt 2", run2, run1[1])
	}
}

// TestScheduleGuardKillsTheJobOfAStoppedReplica: the replica whose job
// runs is stopped (SIGSTOP) and renews no more; the job's guard kills it
// before the lease can expire, and another replica runs the window again,
// attempt 2, with no overlap.
func TestScheduleGuardKillsTheJobOfAStoppedReplica(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the guard is Linux only")
	}
	srv := redistest.Start(t)
	log := newJobLog(t)
	script := runScript(log, `if [ "$BATON_RUN_ATTEMPT" = 1 ]; then exec sleep 60; fi`)
	replicas := map[string]*execBaton{}
	for _, id := range []string{"a", "b", "c"} {
		replicas[id] = startScheduled(t, srv.Addr(), "stopped", id, "@every 10s", script, "--lease-ttl", "3s",
			"--renew-interval", "500ms", "--renew-deadline", "1500ms", "--kill-grace", "1s")
	}
	run1 := log.lines(t, "run", 1)[0]
	runner := replicas[run1[3]]
	pid, _ := strconv.Atoi(run1[4])
	if err := runner.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Cleanup(func() { _ = runner.cmd.Process.Signal(syscall.SIGCONT) })
	// The last renewal was sent at most 500ms before the stop: the lease
	// holds until 2.5s after it at least, and the guard kills by 2.5s.
	// Its parent is stopped: it stays a zombie until baton resumes.
	for deadline := time.Now().Add(e2eGuard); !deadOrZombie(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the job of a stopped replica (pid %d) still runs", pid)
		}
	}
	if d := time.Since(stopped); d > 2500*time.Millisecond+200*time.Millisecond {
		t.Errorf("the guard killed the job %v after the stop, want within the renew deadline and the kill grace (2.5s)", d)
	}
	run2 := log.lines(t, "run", 2)[1]
	if run2[1] != run1[1] || run2[2] != "2" || run2[3] == run1[3] {
		t.Errorf("after the stop: %v, want window %s attempt 2 by another replica", run2, run1[1])
	}
}

// deadOrZombie reports whether pid is gone or a zombie, from /proc.
func deadOrZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z") || strings.HasPrefix(after, "X")
}

// TestScheduleIsQuietBetweenWindows: between windows, no replica sends
// Redis anything, and a window costs each replica a bounded number of
// commands.
func TestScheduleIsQuietBetweenWindows(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	for _, id := range []string{"a", "b", "c"} {
		startScheduled(t, srv.Addr(), "quiet", id, "@every 4s", runScript(log, "true"))
	}
	w, err := time.Parse(time.RFC3339, log.lines(t, "run", 1)[0][1])
	if err != nil {
		t.Fatal(err)
	}
	// From a second into the window to just before the next one: the
	// job ran at the window's start and was recorded within milliseconds.
	time.Sleep(time.Until(w.Add(time.Second)))
	client := srv.Client() // one connection, dialled before the count
	redisCalls(t, client)
	before, stats := redisCalls(t, client)
	time.Sleep(time.Until(w.Add(3900 * time.Millisecond)))
	if quiet, after := redisCalls(t, client); quiet != before {
		t.Errorf("%d commands between windows, want none:\n%s\n%s", quiet-before, stats, after)
	}
	// Three windows: each replica reads TIME and claims; the runner
	// records and reads the record (4); the others may subscribe to the
	// job's channel on a connection of its own (HELLO, CLIENT SETNAME,
	// SUBSCRIBE, UNSUBSCRIBE), and claim again after it and at each
	// event (at most 10 in all).
	log.lines(t, "run", 4)
	time.Sleep(time.Until(w.Add(12*time.Second + time.Second)))
	after, _ := redisCalls(t, client)
	if n, bound := after-before, 3*(4+2*10); n > bound {
		t.Errorf("%d commands in 3 windows of 3 replicas, want at most %d", n, bound)
	} else {
		t.Logf("%d commands in 3 windows of 3 replicas", n)
	}
}

// topLevel are the commands that baton sends; commandstats also counts
// those that its scripts call.
var topLevel = map[string]bool{
	"cmdstat_evalsha": true, "cmdstat_eval": true, "cmdstat_script|load": true,
	"cmdstat_subscribe": true, "cmdstat_unsubscribe": true, "cmdstat_ping": true,
	"cmdstat_hello": true, "cmdstat_client|setname": true, "cmdstat_client|setinfo": true,
}

// redisCalls is the number of commands that clients sent Redis, and their
// stats.
func redisCalls(t *testing.T, c *redis.Client) (int, string) {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !topLevel[name] {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		v, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("commandstats line %q", line)
		}
		n += v
	}
	return n, info
}
