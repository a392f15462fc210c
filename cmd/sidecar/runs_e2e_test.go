//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// runCall POSTs or GETs url on a real sidecar, wants code, and decodes the
// body into a T.
func runCall[T any](t *testing.T, method, url string, code int) T {
	t.Helper()
	r := call(t, method, url)
	if r.code != code {
		t.Fatalf("%s %s = %d %s; want %d", method, url, r.code, r.raw, code)
	}
	var v T
	if err := json.Unmarshal([]byte(r.raw), &v); err != nil {
		t.Fatalf("%s %s: bad JSON %q: %v", method, url, r.raw, err)
	}
	return v
}

// Two sidecars on one Redis claim the same window at once: one runs it,
// the other is told who does. Either sidecar completes it (the run is
// found by its run_id in Redis); a later claim is told it succeeded; a
// stale run's complete is refused; --runs-max-attempts bounds the retries.
func TestRunsAcrossSidecars(t *testing.T) {
	srv := redistest.Start(t)
	sidecars, probes := map[string]string{}, map[string]string{}
	for _, id := range []string{"a", "b"} {
		s := startSidecar(t, srv.Addr(), id, "--runs-max-attempts", "2")
		sidecars[id], probes[id] = s.APIURL, s.ProbeURL
	}
	type answer struct {
		id   string
		code int
		raw  string
	}
	answers := make(chan answer, 2)
	for id, url := range sidecars {
		go func() {
			resp, err := http.Post(url+"/runs/report/claim?window=2026-12-07&lease=1m", "", nil)
			if err != nil {
				answers <- answer{id: id, raw: err.Error()}
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			answers <- answer{id, resp.StatusCode, string(raw)}
		}()
	}
	got := map[int]answer{}
	for range 2 {
		a := <-answers
		got[a.code] = a
	}
	won, lost := got[http.StatusOK], got[http.StatusConflict]
	if won.id == "" || lost.id == "" {
		t.Fatalf("claims answered %+v; want one 200 and one 409", got)
	}
	var run runsapi.RunBody
	var refused runsapi.ConflictBody
	if json.Unmarshal([]byte(won.raw), &run) != nil || json.Unmarshal([]byte(lost.raw), &refused) != nil {
		t.Fatalf("bad bodies %q and %q", won.raw, lost.raw)
	}
	if refused.State != "running" || refused.Last == nil || refused.Last.RunID != run.RunID || refused.Last.Fence != run.Fence ||
		!strings.Contains(refused.Last.Identity, won.id) || refused.RemainingMS <= 0 {
		t.Errorf("409 from %s = %+v; want running by %s (%+v)", lost.id, refused, won.id, run)
	}

	// The other sidecar completes the run.
	runCall[runsapi.CompleteBody](t, "POST", sidecars[lost.id]+"/runs/report/complete?status=ok&run_id="+run.RunID, http.StatusOK)
	for _, url := range sidecars {
		c := runCall[runsapi.ConflictBody](t, "POST", url+"/runs/report/claim?window=2026-12-07", http.StatusConflict)
		if c.State != "succeeded" || c.Last == nil || c.Last.RunID != run.RunID || c.Last.Fence != run.Fence || c.Last.End == "" {
			t.Errorf("third claim = %+v; want succeeded by %s", c, won.id)
		}
	}

	// A run whose lease ran out is stale once another attempt has the window.
	old := runCall[runsapi.RunBody](t, "POST", sidecars["a"]+"/runs/report/claim?window=w2&lease=100ms", http.StatusOK)
	var next runsapi.RunBody
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		r := call(t, "POST", sidecars["b"]+"/runs/report/claim?window=w2")
		if r.code == http.StatusOK {
			_ = json.Unmarshal([]byte(r.raw), &next)
			break
		}
		if time.Since(start) > e2eGuard {
			t.Fatalf("no second attempt of w2 within %v: %d %s", e2eGuard, r.code, r.raw)
		}
	}
	stale := runCall[runsapi.ConflictBody](t, "POST", sidecars["a"]+"/runs/report/complete?status=ok&run_id="+old.RunID, http.StatusConflict)
	if stale.State != "stale" || stale.Last == nil || stale.Last.RunID != next.RunID || next.Attempt != 2 {
		t.Errorf("stale complete = %+v; want stale, the current attempt %+v", stale, next)
	}
	// The second failure uses up --runs-max-attempts 2.
	runCall[runsapi.CompleteBody](t, "POST", sidecars["b"]+"/runs/report/complete?status=failed&run_id="+next.RunID, http.StatusOK)
	runCall[runsapi.ConflictBody](t, "POST", sidecars["a"]+"/runs/report/claim?window=w2", http.StatusConflict)

	info := runCall[runsapi.InfoBody](t, "GET", sidecars["b"]+"/runs/report", http.StatusOK)
	if info.LastSuccess == nil || info.LastSuccess.RunID != run.RunID || info.LastFailure == nil ||
		info.LastFailure.RunID != next.RunID || len(info.Recent) != 3 {
		t.Errorf("GET /runs/report = %+v", info)
	}
	if m := call(t, "GET", probes[won.id]+"/metrics").raw; !strings.Contains(m, `baton_run_requests_total{op="claim",result="ok"}`) {
		t.Errorf("metrics of %s lack the claims", won.id)
	}
}

// A run's stream whose client is killed with SIGKILL fails its attempt at
// once: another sidecar claims the window's next attempt without waiting
// for the stream's hour-long lease.
func TestRunStreamEndsWithItsClient(t *testing.T) {
	srv := redistest.Start(t)
	a := startSidecar(t, srv.Addr(), "a")
	b := startSidecar(t, srv.Addr(), "b")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), streamClientEnv+"="+a.APIURL+"/runs/report/stream?window=k&lease=1h")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	var claimed runsapi.RunEvent
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &claimed) != nil || claimed.Event != "claimed" {
		t.Fatalf("client's first line %q; want the claimed event", sc.Text())
	}
	runCall[runsapi.ConflictBody](t, "POST", b.APIURL+"/runs/report/claim?window=k", http.StatusConflict)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		r := call(t, "POST", b.APIURL+"/runs/report/claim?window=k")
		if r.code == http.StatusOK {
			if !strings.Contains(r.raw, `"attempt":2`) {
				t.Errorf("claim after the kill = %s; want attempt 2", r.raw)
			}
			break
		}
		if time.Since(start) > e2eGuard {
			t.Fatalf("window k still refused %v after its stream's client was killed: %s", e2eGuard, r.raw)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("FIGURE stream client SIGKILLed to the window's next attempt: %v", time.Since(start))
	info := runCall[runsapi.InfoBody](t, "GET", b.APIURL+"/runs/report", http.StatusOK)
	if info.LastFailure == nil || info.LastFailure.RunID != claimed.RunID || info.LastFailure.Status != "failed" {
		t.Errorf("GET /runs/report = %+v; want the killed stream's run failed", info)
	}
}

// SIGTERM ends a run's stream with a lost event and fails its attempt
// before the sidecar exits with 0: another sidecar claims the next attempt
// at once.
func TestSIGTERMFailsStreamedRuns(t *testing.T) {
	srv := redistest.Start(t)
	a := startSidecar(t, srv.Addr(), "a")
	b := startSidecar(t, srv.Addr(), "b")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.APIURL+"/runs/report/stream?window=t&lease=1h", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var ev runsapi.RunEvent
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Event != "claimed" {
		t.Fatalf("first event %q; want claimed", sc.Text())
	}
	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var last runsapi.RunEvent
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("bad event %q", sc.Text())
		}
	}
	if last.Event != "lost" || last.RunID != ev.RunID {
		t.Errorf("last stream event %+v; want lost", last)
	}
	select {
	case <-a.Exited():
	case <-time.After(e2eGuard):
		t.Fatal("sidecar did not exit after SIGTERM")
	}
	if code := a.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	next := runCall[runsapi.RunBody](t, "POST", b.APIURL+"/runs/report/claim?window=t", http.StatusOK)
	if next.Attempt != 2 {
		t.Errorf("claim after the SIGTERM = %+v; want attempt 2", next)
	}
}
