//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/apitest"
	"github.com/baton-dev/baton/internal/redistest"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// metric is the value of series (name{labels} as the exposition writes
// it) on b's /metrics; false when absent.
func (b *execBaton) metric(t *testing.T, series string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(call(t, "GET", b.probeURL+"/metrics").raw, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

// runs is baton_runs_total of job on b, by result.
func (b *execBaton) runs(t *testing.T, job string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range []string{resultSucceeded, resultFailed, resultLost, resultCanceled} {
		v, ok := b.metric(t, fmt.Sprintf(`baton_runs_total{job=%q,result=%q}`, job, r))
		if !ok {
			t.Fatalf("baton_runs_total{result=%q} absent", r)
		}
		out[r] = v
	}
	return out
}

// await polls cond until it holds, or fails the test after the guard.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(e2eGuard); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// leader is b's GET /leader in schedule mode, wanting 200.
func (b *execBaton) leader(t *testing.T) runsapi.ScheduleBody {
	t.Helper()
	r := call(t, "GET", b.apiURL+"/leader")
	if r.code != http.StatusOK {
		t.Fatalf("GET /leader = %d %s", r.code, r.raw)
	}
	var body runsapi.ScheduleBody
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatalf("GET /leader: %q: %v", r.raw, err)
	}
	return body
}

func stampOf(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

// TestScheduleMetricsAndLeader: one replica runs a job that succeeds,
// fails, then hangs while Redis pauses past the renew deadline; its
// metrics count each result, carry the window, the next window and the
// last success as the job's record has it, and GET /leader shows the run
// going on here, the next window and the last run.
func TestScheduleMetricsAndLeader(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	ctl := filepath.Join(t.TempDir(), "mode")
	setMode := func(m string) {
		if err := os.WriteFile(ctl, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setMode("ok")
	const job = "observed"
	script := runScript(log, fmt.Sprintf(`case $(cat %[1]s) in
fail) exit 1;;
hang) trap 'exit 0' TERM; while [ "$(cat %[1]s)" = hang ]; do sleep 0.05; done;;
esac`, ctl))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startScheduled(t, srv.Addr(), job, "a", "@every 2s", script, "--max-attempts", "1", "--api-token-file", tokenFile,
		"--lease-ttl", "3s", "--renew-interval", "500ms", "--renew-deadline", "1500ms", "--kill-grace", "1s")
	// Bound before this line, the API answers from then on.
	jobLog(a.logPath).contains(t, `"msg":"baton starting in schedule mode"`)

	// The API's guards and refusals, as in the other modes.
	for _, tc := range []struct {
		method, path string
		hdr          http.Header
		code         int
	}{
		{"GET", "/leader?wait=1s", nil, http.StatusBadRequest},
		{"GET", "/leader?x=1", nil, http.StatusBadRequest},
		{"POST", "/leader", nil, http.StatusMethodNotAllowed},
		{"GET", "/leader/watch", nil, http.StatusNotFound},
		{"GET", "/leader", http.Header{"Host": {"attacker.example"}}, http.StatusMisdirectedRequest},
		{"POST", "/runs/app/claim?window=w", nil, http.StatusUnauthorized},
		{"POST", "/runs/app/claim?window=w%20x", http.Header{"Authorization": {"Bearer s3cret"}}, http.StatusBadRequest},
		{"GET", "/runs/app", nil, http.StatusOK},
	} {
		if resp, body := apitest.Do(t, tc.method, a.apiURL+tc.path, "", "", tc.hdr); resp.StatusCode != tc.code {
			t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.code)
		}
	}

	// Success: counted, and the last success is the record's.
	await(t, "a success counted", func() bool { return a.runs(t, job)[resultSucceeded] >= 1 })
	if n := a.runs(t, job); n[resultFailed]+n[resultLost]+n[resultCanceled] != 0 {
		t.Errorf("after successes only: %v", n)
	}
	await(t, "the last success gauge at the record's end", func() bool {
		b := a.leader(t)
		v, ok := a.metric(t, fmt.Sprintf(`baton_run_last_success_timestamp_seconds{job=%q}`, job))
		if !ok || b.LastSuccess == nil {
			return false
		}
		end := stampOf(t, b.LastSuccess.End)
		return math.Abs(v-float64(end.UnixNano())/1e9) < 1e-3
	})
	if v, _ := a.metric(t, fmt.Sprintf(`baton_run_window_seconds{job=%q}`, job)); v != 2 {
		t.Errorf("baton_run_window_seconds = %v, want 2", v)
	}
	next, _ := a.metric(t, fmt.Sprintf(`baton_run_next_window_timestamp_seconds{job=%q}`, job))
	if b := a.leader(t); math.Mod(next, 2) != 0 || next < float64(stampOf(t, b.Now).Unix())-2 {
		t.Errorf("baton_run_next_window_timestamp_seconds = %v at %s, want a start of a window of 2s", next, b.Now)
	}

	// Failure.
	setMode("fail")
	await(t, "a failure counted", func() bool { return a.runs(t, job)[resultFailed] >= 1 })
	if n := a.runs(t, job); n[resultLost] != 0 {
		t.Errorf("after a failure: %v", n)
	}

	// A hang: /leader shows the run here; Redis pauses past the renew
	// deadline, and the attempt is lost.
	setMode("hang")
	seen := len(log.lines(t, "run", 1))
	hung := log.lines(t, "run", seen+1)[seen]
	b := a.leader(t)
	switch {
	case !b.RunningHere || b.Run == nil || b.Run.Window != hung[1] || b.Run.RunID != hung[7]:
		t.Errorf("GET /leader during the run of %s (%s): running here %v, run %+v", hung[1], hung[7], b.RunningHere, b.Run)
	case b.LastRun == nil || b.LastRun.RunID != hung[7] || b.LastRun.Status != "running" || b.LastRun.Identity != "a":
		t.Errorf("GET /leader during the run: last run %+v, want %s running", b.LastRun, hung[7])
	case stampOf(t, b.NextWindow).Sub(stampOf(t, b.Window)) != 2*time.Second || stampOf(t, b.NextWindow).Before(stampOf(t, b.Now)):
		t.Errorf("GET /leader: now %s, window %s, next window %s; want windows of 2s", b.Now, b.Window, b.NextWindow)
	}
	if err := srv.Client().Do(t.Context(), "CLIENT", "PAUSE", "2500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	await(t, "a lost attempt counted", func() bool { return a.runs(t, job)[resultLost] >= 1 })
	setMode("ok")
	await(t, "the lost attempt as the last failure", func() bool {
		b := a.leader(t)
		return b.LastFailure != nil && b.LastFailure.RunID == hung[7] && b.LastFailure.Status == "lost"
	})
	if n := a.runs(t, job); n[resultCanceled] != 0 {
		t.Errorf("canceled attempts without a SIGTERM: %v", n)
	}
}

// missedLogged is the count of the log line of missed windows in b's log.
var missedLogged = regexp.MustCompile(`"msg":"windows missed: no replica ran them".*"missed":(\d+)`)

// TestScheduleCountsWindowsMissedWhileRedisWasDown: the replica stays up
// while Redis answers nothing (CLIENT PAUSE) for several windows; the
// runner of the first window after the pause counts the windows that
// nobody could claim, although they lie before its own in the record.
func TestScheduleCountsWindowsMissedWhileRedisWasDown(t *testing.T) {
	srv := redistest.Start(t)
	log := newJobLog(t)
	const job = "outage"
	a := startScheduled(t, srv.Addr(), job, "a", "@every 1s", runScript(log, "true"), "--lease-ttl", "2s")
	// Mid-window, once the run of the window and its count are over.
	time.Sleep(time.Until(stampOf(t, log.lines(t, "run", 2)[1][1]).Add(500 * time.Millisecond)))
	if err := srv.Client().Do(t.Context(), "CLIENT", "PAUSE", "3500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now().Add(3500 * time.Millisecond)
	for n := 3; ; n++ {
		if w := stampOf(t, log.lines(t, "run", n)[n-1][1]); w.After(resumed.Add(time.Second)) {
			break
		}
	}
	series := fmt.Sprintf(`baton_run_missed_windows_total{job=%q}`, job)
	await(t, "the windows of the pause counted", func() bool { v, _ := a.metric(t, series); return v >= 2 })
	jobLog(a.logPath).contains(t, `"msg":"windows missed: no replica ran them"`)
}
