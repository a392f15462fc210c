//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
)

// procState reads a process's state letter and process group from
// /proc/PID/stat; ok is false once the process has been reaped.
func procState(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	return f[0][0], pgrp, true
}

// running reports whether pid is a live process: neither reaped nor a
// zombie. A stopped baton cannot reap its job, so a killed job stays a
// zombie until baton runs again.
func running(pid int) bool {
	st, _, ok := procState(pid)
	return ok && st != 'Z'
}

// stamps returns the times of the "stamp" lines of identity id.
func (l jobLog) stamps(t *testing.T, id string) []int64 {
	t.Helper()
	b, err := os.ReadFile(string(l))
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "stamp" && f[2] == id {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			out = append(out, ns)
		}
	}
	return out
}

// TestExecGuardKillsTheJobOfAStoppedBaton: the leading `baton run` alone,
// not its job, is stopped (SIGSTOP) for longer than the lease TTL. Its
// job's guard kills the job by the term's deadline plus the kill grace,
// before the lease can expire: the job is dead while baton is still
// stopped, and its last stamp comes before the next replica's job starts.
// Once baton runs again it follows, the exit counted as baton's doing, and
// no guard outlives its job.
func TestExecGuardKillsTheJobOfAStoppedBaton(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	script := fmt.Sprintf(`echo "start $$ $(date +%%s%%N) $BATON_FENCE $BATON_IDENTITY" >> %[1]s
while :; do echo "stamp $(date +%%s%%N) $BATON_IDENTITY" >> %[1]s; sleep 0.02; done`, log)
	// startExec runs at --lease-ttl 3s (renew deadline 2s) and --kill-grace 500ms.
	a := startExec(t, srv.Addr(), "job", "a", script)
	first := log.lines(t, "start", 1)[0]
	jobA, _ := strconv.Atoi(first[1])
	_, groupA, _ := procState(jobA)
	b := startExec(t, srv.Addr(), "job", "b", script)
	// b is up and follows a before a's baton stops.
	for holder(b.apiURL) != "a" {
		time.Sleep(20 * time.Millisecond) // b starts on its own schedule
	}

	// The guard takes each renewal's deadline: a's job outlives the first
	// term's deadline plus the kill grace (2.5 s) while baton runs.
	startA, _ := strconv.ParseInt(first[2], 10, 64)
	for time.Since(time.Unix(0, startA)) < 3*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if !running(jobA) {
		t.Fatalf("a's job (pid %d) died while its baton renewed", jobA)
	}

	batonA := a.cmd.Process.Pid
	if err := syscall.Kill(batonA, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(batonA, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)

	second := log.lines(t, "start", 2)[1]
	startB, _ := strconv.ParseInt(second[2], 10, 64)
	if second[4] != "b" {
		t.Fatalf("second job %v, want b's", second)
	}
	if running(jobA) {
		t.Errorf("a's job (pid %d) still runs when b's job starts, %v after a's baton was stopped", jobA, time.Unix(0, startB).Sub(stopped))
	}
	// Keep a's baton stopped for the 6 s (twice the TTL), and
	// until b's job has stamped a while beside it.
	for len(log.stamps(t, "b")) < 25 || time.Since(stopped) < 6*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if running(jobA) {
		t.Errorf("a's job (pid %d) still runs beside b's job", jobA)
	}
	resume()

	stampsA := log.stamps(t, "a")
	if len(stampsA) == 0 {
		t.Fatal("a's job never stamped")
	}
	lastA := stampsA[len(stampsA)-1]
	if lastA >= startB {
		t.Errorf("a's job stamped %v after b's job had started: two jobs ran at once", time.Unix(0, lastA).Sub(time.Unix(0, startB)))
	} else {
		t.Logf("a's last stamp %v after a's baton was stopped, %v before b's job started",
			time.Unix(0, lastA).Sub(stopped), time.Unix(0, startB).Sub(time.Unix(0, lastA)))
	}

	// The guard was the job's group leader, and died with the group.
	if groupA == jobA {
		t.Errorf("a's job leads its own group %d: it has no guard", groupA)
	} else if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", groupA)); running(groupA) && strings.Contains(string(cmdline), guardArg) {
		t.Errorf("a's guard (pid %d) survived the kill of its group", groupA)
	}

	// a runs again: it follows b, and says that baton ended its job.
	deadline := time.Now().Add(e2eGuard)
	for {
		r := call(t, "GET", a.apiURL+"/leader")
		child, _ := r.body["child"].(map[string]any)
		last, _ := child["last_exit"].(map[string]any)
		if r.code == 503 && r.body["holder"] == "b" && last != nil {
			if last["by_baton"] != true || last["signal"] != "SIGKILL" {
				t.Errorf("a's /leader says %s, want a last exit by baton with SIGKILL", r.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's /leader never showed b leading and its job's exit: %s", r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Count(string(must(os.ReadFile(string(log)))), "start ") != 2 {
		t.Errorf("a job started again while b leads")
	}

	// b's job and its guard end with a normal shutdown: no guard leaks.
	jobB, _ := strconv.Atoi(second[1])
	_, groupB, _ := procState(jobB)
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	b.wait(t)
	if _, _, ok := procState(groupB); ok || groupB == jobB {
		t.Errorf("b's guard (pid %d, job %d) outlived b's baton", groupB, jobB)
	}
}

// holder is the holder on url's /leader; "" until it answers.
func holder(url string) string {
	resp, err := http.Get(url + "/leader")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct{ Holder string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Holder
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestExecGuardTakesTheGroupAlongWhenBatonIsKilled: a baton killed by
// SIGKILL closes its guard's pipe, and the guard kills the whole group, so
// the job's own children die too, not only the job (PR_SET_PDEATHSIG).
func TestExecGuardTakesTheGroupAlongWhenBatonIsKilled(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	a := startExec(t, srv.Addr(), "job", "a", fmt.Sprintf(`sleep 1000 & echo "start $$ $!" >> %s; wait`, log))
	start := log.lines(t, "start", 1)[0]
	job, _ := strconv.Atoi(start[1])
	sleep, _ := strconv.Atoi(start[2])
	_, guard, _ := procState(job)
	killed := time.Now()
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.wait(t)
	defer func() { t.Logf("the group was gone %v after the kill", time.Since(killed)) }()
	for _, p := range []struct {
		pid  int
		what string
	}{{job, "the job"}, {sleep, "the job's child"}, {guard, "the guard"}} {
		deadline := time.Now().Add(e2eGuard)
		for running(p.pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) outlived its baton's kill -9", p.what, p.pid)
			}
			time.Sleep(5 * time.Millisecond) // the kernel and the guard act on their own
		}
	}
}
