//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// execBaton is one `baton run` process and its job's shared log.
type execBaton struct {
	cmd      *exec.Cmd
	apiURL   string
	probeURL string
	logPath  string
	done     chan struct{}
	code     int
}

// startExec runs `baton run` as id on lock with the job script under sh.
func startExec(t *testing.T, redisAddr, lock, id, script string, extra ...string) *execBaton {
	t.Helper()
	// Distinct ports: schedule mode binds both too.
	ports := redistest.FreePorts(t, 2)
	apiPort, probePort := ports[0], ports[1]
	args := append([]string{"run", "--lock", lock, "--identity", id, "--redis-addr", redisAddr,
		"--api-addr", "127.0.0.1:" + strconv.Itoa(apiPort), "--probe-addr", "127.0.0.1:" + strconv.Itoa(probePort),
		"--kube", "false", "--lease-ttl", "3s", "--kill-grace", "500ms"}, extra...)
	args = append(args, "--", "sh", "-c", script)
	logPath := filepath.Join(t.TempDir(), id+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	b := &execBaton{
		cmd: exec.Command(binary(t), args...), apiURL: "http://127.0.0.1:" + strconv.Itoa(apiPort),
		probeURL: "http://127.0.0.1:" + strconv.Itoa(probePort), logPath: logPath, done: make(chan struct{}),
	}
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = b.cmd.Wait()
		b.code = b.cmd.ProcessState.ExitCode()
		_ = logf.Close()
		close(b.done)
	}()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.done
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", id, out)
		}
	})
	return b
}

// wait returns the exit code, failing the test after the guard.
func (b *execBaton) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-b.done:
		return b.code
	case <-time.After(e2eGuard):
		t.Fatal("baton run did not exit")
		return -1
	}
}

// jobLog is the file that the jobs of a test append their events to.
type jobLog string

func newJobLog(t *testing.T) jobLog { return jobLog(filepath.Join(t.TempDir(), "jobs.log")) }

// lines waits until the log has a line starting with prefix, n in all, and
// returns those lines' fields. The jobs are separate processes: reading
// their file is the only way to see them.
func (l jobLog) lines(t *testing.T, prefix string, n int) [][]string {
	t.Helper()
	deadline := time.Now().Add(e2eGuard)
	for {
		b, _ := os.ReadFile(string(l))
		var got [][]string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == prefix {
				got = append(got, f)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %q lines in the job log, want %d:\n%s", len(got), prefix, n, b)
		}
		time.Sleep(10 * time.Millisecond) // the jobs write on their own schedule
	}
}

// contains waits until the file holds substr.
func (l jobLog) contains(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(e2eGuard)
	for {
		if b, _ := os.ReadFile(string(l)); strings.Contains(string(b), substr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q", l, substr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitDead waits until pid is gone (ESRCH), or fails after the guard.
func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(e2eGuard)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) is still alive", what, pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExecExitStatusPassesThrough(t *testing.T) {
	srv := redistest.Start(t)
	for i, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -KILL $$", 128 + 9},
	} {
		t.Run(tc.script, func(t *testing.T) {
			knownStore(t, srv.Client(), fmt.Sprintf("status-%d", i))
			b := startExec(t, srv.Addr(), fmt.Sprintf("status-%d", i), "a", tc.script)
			if got := b.wait(t); got != tc.want {
				t.Errorf("baton run exited with %d, want %d", got, tc.want)
			}
			// The release let nobody wait: the lease is gone.
			if n := srv.Client().Exists(t.Context(), fmt.Sprintf("baton:{status-%d}:lease", i)).Val(); n != 0 {
				t.Errorf("lease still in Redis after the job's exit")
			}
		})
	}
}

func TestExecUsageErrors(t *testing.T) {
	addr := undialedRedis(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--lock", "j", "--redis-addr", addr}, "needs the job's command after --"},
		{[]string{"run", "--lock", "j", "--redis-addr", addr, "--kill-grace", "6s", "--", "true"}, "--kill-grace must be greater than 0 and at most 4s (got 6s)"},
		{[]string{"run", "--lock", "j", "--redis-addr", addr, "--on-exit", "sometimes", "--", "true"}, "--on-exit must be exit, restart or recampaign"},
		{[]string{"run", "--lock", "j", "--redis-addr", addr, "--", "/nonexistent/job"}, "the command after --"},
		{[]string{"install"}, "usage: baton install DEST"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run(tc.args, env(nil), &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestInstallCopiesItself(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "baton")
	out, err := exec.Command(binary(t), "install", dest).CombinedOutput()
	if err != nil {
		t.Fatalf("install: %v: %s", err, out)
	}
	out, err = exec.Command(dest, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "baton ") {
		t.Errorf("the installed copy runs as %q, %v", out, err)
	}
}

// TestExecHandsTheJobOver: two replicas run the same job. A resign through
// the API and a SIGTERM each stop the whole process group of the leader's
// job (a shell with a background sleep, as in consul's bug #2022) before the
// other replica's job starts under a larger fence; SIGHUP reaches the job;
// SIGTERM makes baton exit with the job's status.
func TestExecHandsTheJobOver(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	log := newJobLog(t)
	script := fmt.Sprintf(`trap 'echo hup $$ >> %[1]s' HUP
sleep 1000 & echo "start $$ $! $BATON_FENCE $BATON_IDENTITY" >> %[1]s
while :; do wait; done`, log)
	a := startExec(t, srv.Addr(), "job", "a", script)
	first := log.lines(t, "start", 1)[0]
	b := startExec(t, srv.Addr(), "job", "b", script)
	leader, other := a, b
	if first[4] == "b" {
		leader, other = b, a
	}
	shPID, _ := strconv.Atoi(first[1])
	sleepPID, _ := strconv.Atoi(first[2])

	// /leader carries the job's state.
	r := call(t, "GET", leader.apiURL+"/leader")
	child, _ := r.body["child"].(map[string]any)
	if r.code != 200 || child["running"] != true || child["pid"] != float64(shPID) {
		t.Errorf("leader's /leader = %d %s, want the running job %d", r.code, r.raw, shPID)
	}

	// SIGHUP is forwarded to the job.
	if err := leader.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if hup := log.lines(t, "hup", 1)[0]; hup[1] != first[1] {
		t.Errorf("SIGHUP reached %s, want the job %s", hup[1], first[1])
	}

	// A resign through the API: the whole group dies, the other job starts.
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	sc := &sidecartest.Sidecar{APIURL: leader.apiURL}
	if err := sc.Release(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	second := log.lines(t, "start", 2)[1]
	if alive(shPID) || alive(sleepPID) {
		t.Errorf("a process of the resigned job's group survived the hand-over (sh %v, sleep %v)", alive(shPID), alive(sleepPID))
	}
	f1, _ := strconv.ParseUint(first[3], 10, 64)
	f2, _ := strconv.ParseUint(second[3], 10, 64)
	if f2 <= f1 || second[4] == first[4] {
		t.Errorf("second job %v after %v: want the other replica, a larger fence", second, first)
	}

	// SIGTERM to the new leader: its group dies, baton exits with the
	// job's status (sh killed by SIGTERM: 143).
	sh2, _ := strconv.Atoi(second[1])
	sleep2, _ := strconv.Atoi(second[2])
	if err := other.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := other.wait(t); code != 128+int(syscall.SIGTERM) {
		t.Errorf("baton run exited with %d after SIGTERM, want 143", code)
	}
	if alive(sh2) || alive(sleep2) {
		t.Errorf("a process of the job's group survived baton's exit")
	}
}

// TestExecKill9TakesTheJobAlong: a baton killed by SIGKILL cannot stop its
// job, so the kernel does (PR_SET_PDEATHSIG).
func TestExecKill9TakesTheJobAlong(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	log := newJobLog(t)
	a := startExec(t, srv.Addr(), "job", "a", fmt.Sprintf(`echo "start $$" >> %s; exec sleep 1000`, log))
	pid, _ := strconv.Atoi(log.lines(t, "start", 1)[0][1])
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.wait(t)
	waitDead(t, pid, "the job of a baton killed by SIGKILL")
}

// TestExecSecondSignalKillsAtOnce: a job that ignores SIGTERM holds the
// first shutdown for the kill grace; a second signal kills it at once.
func TestExecSecondSignalKillsAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	log := newJobLog(t)
	a := startExec(t, srv.Addr(), "job", "a", fmt.Sprintf(`trap '' TERM; echo "start $$" >> %s; while :; do sleep 1; done`, log),
		"--kill-grace", "700ms", "--release-timeout", "30s")
	pid, _ := strconv.Atoi(log.lines(t, "start", 1)[0][1])
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	// Two signals sent at once can merge into one; send the second once
	// the first has started the shutdown.
	jobLog(a.logPath).contains(t, "stopping the child's process group")
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	code := a.wait(t)
	if code != exitFailed {
		t.Errorf("exit code %d after a second signal, want %d", code, exitFailed)
	}
	waitDead(t, pid, "the job after a second signal")
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the job's group survived: kill(-%d, 0) = %v", pid, err)
	}
}

// TestExecClientPauseStopsTheJobInsideTheMargin: Redis pauses every client
// for longer than the renew deadline. The job must get SIGTERM by the renew
// deadline and be dead before the lease could have expired in Redis; a new
// job starts only with the next term.
func TestExecClientPauseStopsTheJobInsideTheMargin(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	log := newJobLog(t)
	const (
		interval = 500 * time.Millisecond
		deadline = 1500 * time.Millisecond
		ttl      = 3 * time.Second
	)
	script := fmt.Sprintf(`trap 'echo "term $(date +%%s%%N)" >> %[1]s; exit 0' TERM
echo "start $(date +%%s%%N) $BATON_FENCE" >> %[1]s
while :; do sleep 0.05; done`, log)
	startExec(t, srv.Addr(), "job", "a", script, "--lease-ttl", ttl.String(),
		"--renew-interval", interval.String(), "--renew-deadline", deadline.String(), "--kill-grace", "1s")
	first := log.lines(t, "start", 1)[0]
	// Pause right after a renewal could have been sent: the last one was
	// sent no earlier than one interval before the pause.
	paused := time.Now()
	if err := srv.Client().Do(t.Context(), "CLIENT", "PAUSE", "4000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	term := log.lines(t, "term", 1)[0]
	termAt, _ := strconv.ParseInt(term[1], 10, 64)
	// The renew deadline is at most paused+deadline; a little scheduling
	// slack is allowed. The lease lives until at least
	// paused-interval+ttl, and the job must be gone before that.
	if got, bound := time.Unix(0, termAt).Sub(paused), deadline+200*time.Millisecond; got > bound {
		t.Errorf("SIGTERM reached the job %v after the pause, beyond the renew deadline (%v)", got, bound)
	}
	if got, bound := time.Unix(0, termAt).Sub(paused), ttl-interval; got >= bound {
		t.Errorf("the job stopped %v after the pause, when the lease could have expired (%v)", got, bound)
	}
	// Once Redis answers again, the next term runs a new job.
	second := log.lines(t, "start", 2)[1]
	startAt, _ := strconv.ParseInt(second[1], 10, 64)
	f1, _ := strconv.ParseUint(first[2], 10, 64)
	f2, _ := strconv.ParseUint(second[2], 10, 64)
	if startAt <= termAt || f2 <= f1 {
		t.Errorf("second job %v after the first's end %v: want later, with a larger fence than %d", second, termAt, f1)
	}
}
