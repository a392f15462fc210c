//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/jsonshape"
	"github.com/baton-dev/baton/internal/kubetest"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/redislock"
)

const e2eGuard = 30 * time.Second

var (
	buildOnce sync.Once
	binPath   string
	removeBin func()
	buildErr  error
)

func TestMain(m *testing.M) {
	code := kubetest.Main(m)
	if removeBin != nil {
		removeBin()
	}
	os.Exit(code)
}

// binary builds the sidecar once per test run: these tests drive the real
// process, its flags, signals and listeners.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		// Built once for the whole run; TestMain removes it.
		binPath, removeBin, buildErr = sidecartest.Build()
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func startSidecar(t *testing.T, redisAddr, id string, extra ...string) *sidecartest.Sidecar {
	t.Helper()
	dir := t.TempDir()
	s, err := sidecartest.Launch(binary(t), dir, id, redisAddr, "job", extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, id+".log"))
			t.Logf("log of %s:\n%s", id, b)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	probe := "/readyz"
	if strings.Contains(strings.Join(extra, " "), "--ready-when leader") {
		probe = "/healthz" // a follower is never ready in this mode
	}
	if err := s.WaitProbe(ctx, probe); err != nil {
		t.Fatal(err)
	}
	return s
}

// knownStore seeds the election's term record of lock through c, as a
// release leaves it (redistest.KnownStore): an unknown store makes the
// first term wait one lease TTL, and these tests are about other things.
func knownStore(t *testing.T, c *redis.Client, lock string) {
	t.Helper()
	redistest.KnownStore(t, c, redislock.DefaultPrefix+":{"+lock+"}:term")
}

// TestSidecartestStatusMatchesAPI keeps sidecartest's copy of the /leader
// body in step with api.StatusBody.
func TestSidecartestStatusMatchesAPI(t *testing.T) {
	for _, m := range jsonshape.Mismatches(reflect.TypeFor[sidecartest.Status](), reflect.TypeFor[api.StatusBody]()) {
		t.Error(m)
	}
}

// mustLead long-polls s's /leader for up to 20s and fails the test unless s
// leads.
func mustLead(t *testing.T, ctx context.Context, s *sidecartest.Sidecar) sidecartest.Status {
	t.Helper()
	st, err := s.Leader(ctx, 20*time.Second)
	if err != nil || !st.Leader {
		t.Fatalf("%s does not lead: %+v, %v", s.Identity, st, err)
	}
	return st
}

type httpResult struct {
	code int
	body map[string]any
	raw  string
}

func call(t *testing.T, method, url string) httpResult {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := httpResult{code: resp.StatusCode, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, url, raw, err)
		}
	}
	return r
}

func TestSidecarEndToEnd(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	a := startSidecar(t, srv.Addr(), "a", "--lease-ttl", "2s")
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	mustLead(t, ctx, a)
	b := startSidecar(t, srv.Addr(), "b", "--lease-ttl", "2s")

	// GET /leader: 200 with the term for the leader, 503 for the follower.
	ra := call(t, "GET", a.APIURL+"/leader")
	if ra.code != 200 || ra.body["leader"] != true || ra.body["identity"] != "a" || ra.body["holder"] != "a" ||
		ra.body["fence"] == nil || ra.body["remaining_ms"].(float64) <= 0 || ra.body["term_start"] == nil {
		t.Fatalf("leader's GET /leader = %d %s", ra.code, ra.raw)
	}
	// b is ready once connected; its first try, which observes a, may
	// come a moment later.
	rb := call(t, "GET", b.APIURL+"/leader")
	for rb.body["holder"] == "" && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // another process's pace
		rb = call(t, "GET", b.APIURL+"/leader")
	}
	if rb.code != 503 || rb.body["leader"] != false || rb.body["identity"] != "b" || rb.body["holder"] != "a" || rb.body["fence"] != nil {
		t.Fatalf("follower's GET /leader = %d %s", rb.code, rb.raw)
	}
	if r := call(t, "GET", b.APIURL+"/leader?wait=banana"); r.code != 400 {
		t.Errorf("bad wait: %d %s", r.code, r.raw)
	}

	// A long-poll and an event stream on the follower, both open before the
	// handover.
	longPoll := make(chan httpResult, 1)
	go func() { longPoll <- call(t, "GET", b.APIURL+"/leader?wait=25s") }()
	events := watch(t, ctx, b.APIURL+"/leader/watch")
	if ev := <-events; ev["leader"] != false {
		t.Fatalf("first event = %v, want follower status", ev)
	}

	// Resign on the leader: the follower takes over at once.
	rel := call(t, "POST", a.APIURL+"/leader/release?hold_off=20s")
	if rel.code != 200 || rel.body["released"] != true {
		t.Fatalf("POST /leader/release = %d %s", rel.code, rel.raw)
	}
	select {
	case r := <-longPoll:
		if r.code != 200 || r.body["identity"] != "b" || r.body["leader"] != true {
			t.Fatalf("long-poll = %d %s", r.code, r.raw)
		}
		if r.body["fence"].(float64) <= ra.body["fence"].(float64) {
			t.Errorf("fence did not grow: %v then %v", ra.body["fence"], r.body["fence"])
		}
	case <-time.After(e2eGuard):
		t.Fatal("long-poll did not return after the handover")
	}
	for ev := range events {
		if ev["leader"] == true {
			break
		}
	}
	if r := call(t, "GET", a.APIURL+"/leader"); r.code != 503 || r.body["hold_off_ms"] == nil {
		t.Errorf("resigned replica: %d %s", r.code, r.raw)
	}
	if r := call(t, "GET", a.APIURL+"/leader/release"); r.code != 405 {
		t.Errorf("GET on the release endpoint: %d", r.code)
	}

	// Probes and metrics.
	for _, s := range []*sidecartest.Sidecar{a, b} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := call(t, "GET", s.ProbeURL+p); r.code != 200 {
				t.Errorf("%s %s = %d %s", s.Identity, p, r.code, r.raw)
			}
		}
	}
	m := call(t, "GET", b.ProbeURL+"/metrics").raw
	for _, want := range []string{
		"baton_is_leader 1",
		`leader_election_master_status{name="job"} 1`,
		"baton_leader_transitions_total 1",
		"baton_acquire_wait_seconds_count 1",
		"baton_build_info{",
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// watch reads Server-Sent Events and sends each data payload.
func watch(t *testing.T, ctx context.Context, url string) <-chan map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("watch Content-Type = %q", ct)
	}
	out := make(chan map[string]any, 16)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev map[string]any
				if json.Unmarshal([]byte(data), &ev) == nil {
					out <- ev
				}
			}
		}
	}()
	return out
}

func TestSIGTERMReleasesAndExitsZero(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	// An hour-long lease: only a release can hand over within the guard.
	a := startSidecar(t, srv.Addr(), "a", "--lease-ttl", "1h")
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	mustLead(t, ctx, a)
	b := startSidecar(t, srv.Addr(), "b", "--lease-ttl", "1h")
	waiting := make(chan sidecartest.Status, 1)
	go func() {
		st, _ := b.Leader(ctx, 25*time.Second)
		waiting <- st
	}()
	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Exited():
	case <-time.After(e2eGuard):
		t.Fatal("sidecar did not exit after SIGTERM")
	}
	if code := a.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if st := <-waiting; !st.Leader || st.Identity != "b" {
		t.Errorf("after a's SIGTERM b reads %+v, want leader", st)
	}
}

func TestProbesWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	f := startSidecar(t, srv.Addr(), "f", "--lease-ttl", "1s")
	l := startSidecar(t, srv.Addr(), "l", "--lease-ttl", "1s", "--ready-when", "leader")
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	mustLead(t, ctx, f)
	if r := call(t, "GET", l.ProbeURL+"/readyz"); r.code == 200 {
		t.Errorf("ready-when=leader follower is ready: %s", r.raw)
	}
	srv.Kill()
	// Liveness never fails because Redis is down; readiness does, once the
	// cached ping has expired.
	deadline := time.Now().Add(e2eGuard)
	for {
		if r := call(t, "GET", f.ProbeURL+"/readyz"); r.code != 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readiness still passes with Redis down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := f.Leader(ctx, 0); st.Leader {
		// The renew deadline is 2/3 s; long-poll for the step-down.
		deadline := time.Now().Add(e2eGuard)
		for st.Leader && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			st, _ = f.Leader(ctx, 0)
		}
		if st.Leader {
			t.Error("still leader with Redis down")
		}
	}
	for _, s := range []*sidecartest.Sidecar{f, l} {
		if r := call(t, "GET", s.ProbeURL+"/healthz"); r.code != 200 {
			t.Errorf("%s liveness = %d with Redis down", s.Identity, r.code)
		}
	}
}

func TestBinaryRejectsInvalidConfig(t *testing.T) {
	out, err := exec.Command(binary(t), "--lock", "job", "--renew-deadline", "1m").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want code 2; output %s", err, out)
	}
	if !strings.Contains(string(out), "--renew-deadline must be less than --lease-ttl") {
		t.Errorf("output = %q", out)
	}
}

func TestTLSAndACLUser(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	srv := redistest.StartTLS(t, files,
		"user default off",
		"user baton on >s3cret ~baton:* &baton:* +@all",
	)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), TLSConfig: files.Config, Username: "baton", Password: "s3cret"})
	defer c.Close()
	knownStore(t, c, "job")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startSidecar(t, srv.Addr(), "tls-a", "--redis-tls", "--redis-ca-file", files.CA,
		"--redis-username", "baton", "--redis-password-file", pw)
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	mustLead(t, ctx, a) // over TLS with an ACL user

	// Without trusting the CA, the sidecar never leads and is not ready.
	b, err := sidecartest.Launch(binary(t), t.TempDir(), "tls-b", srv.Addr(), "job", "--redis-tls",
		"--redis-username", "baton", "--redis-password-file", pw)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Kill()
	if err := b.WaitProbe(ctx, "/healthz"); err != nil {
		t.Fatal(err)
	}
	r := call(t, "GET", b.APIURL+"/leader")
	for deadline := time.Now().Add(e2eGuard); r.body["last_error"] == nil; r = call(t, "GET", b.APIURL+"/leader") {
		if time.Now().After(deadline) {
			t.Fatalf("no error reported with an untrusted CA: %s", r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.code != 503 || !strings.Contains(r.body["last_error"].(string), "certificate") {
		t.Errorf("untrusted CA: %d %s", r.code, r.raw)
	}
	if r := call(t, "GET", b.ProbeURL+"/readyz"); r.code == 200 {
		t.Error("ready without a working Redis connection")
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	a := startSidecar(t, srv.Addr(), "a", "--lease-ttl", "30s", "--release-timeout", "1m")
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	mustLead(t, ctx, a)
	// With Redis stopped, the graceful release hangs until its one-minute
	// bound; only the second signal can end the process within the guard.
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Signal(syscall.SIGCONT) }()
	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The first signal has been handled once the API stops reporting leader.
	for deadline := time.Now().Add(e2eGuard); ; time.Sleep(10 * time.Millisecond) {
		if st, err := a.Leader(ctx, 0); err == nil && !st.Leader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first SIGTERM did not step down")
		}
	}
	select {
	case <-a.Exited():
		t.Fatal("exited before the release finished or a second signal came")
	default:
	}
	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Exited():
	case <-time.After(e2eGuard):
		t.Fatal("the second signal did not end the process")
	}
	if code := a.Cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d after a second signal, want 1", code)
	}
}
