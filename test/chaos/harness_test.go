//go:build linux

package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/redislock"
)

// binPath is the sidecar built once by TestMain, or -chaos.sidecar.
var binPath string

var (
	prebuilt = flag.String("chaos.sidecar", "", "run this sidecar binary instead of building cmd/sidecar (to compare builds)")
	keepLogs = flag.String("chaos.logs", "", "keep every sidecar's log under this directory, one subdirectory per test")
)

// logDir is where a test's sidecars write their logs: under -chaos.logs,
// or a temporary directory.
func logDir(t *testing.T) string {
	t.Helper()
	if *keepLogs == "" {
		return t.TempDir()
	}
	dir := filepath.Join(*keepLogs, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMain(m *testing.M) {
	flag.Parse()
	if *prebuilt != "" {
		binPath = *prebuilt
		os.Exit(m.Run())
	}
	bin, cleanup, err := sidecartest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// slack is the allowance for a busy machine on top of every liveness bound.
const slack = 2 * time.Second

const (
	// releaseTimeout is every sidecar's --release-timeout.
	releaseTimeout = time.Second
	// httpShutdown is cmd/sidecar's bound on its HTTP servers' shutdown
	// after the elector has returned (httpShutdownTimeout there).
	httpShutdown = 2 * time.Second
	// exitBound is how long a sidecar may take to exit after SIGTERM: a
	// leader's release is bounded by --release-timeout (without exec mode
	// there is no work to wait for), a follower has nothing to release, and
	// then the HTTP servers shut down. A replica still running after it is
	// stuck.
	exitBound = releaseTimeout + httpShutdown + slack
)

// lockName is every sidecar's --lock.
const lockName = "chaos"

// lockKeys are the Redis names of the sidecars' lock: the election's lease
// under redislock's default prefix.
type lockKeys struct{ lease, fence, term, channel string }

func keysOf() lockKeys {
	key := func(suffix string) string { return keyOf(redislock.DefaultPrefix, lockName, suffix) }
	return lockKeys{lease: key("lease"), fence: key("fence"), term: key("term"), channel: key("released")}
}

// keyOf is the key of a lock's part (lease, fence, term, released, ...)
// for name under prefix, as the lock libraries spell it.
func keyOf(prefix, name, suffix string) string { return prefix + ":{" + name + "}:" + suffix }

// env is one test's world: a Redis, sidecars each behind its own proxy, and
// the history of their terms.
type env struct {
	t     *testing.T
	redis *redistest.Server
	hist  *History
	ttl   time.Duration
	dir   string
	// addr is what proxies forward to; redisAddr overrides e.redis.
	addr string
	// sub are arguments before every sidecar's flags: {"run"} for exec
	// mode, whose job's command then ends extra (and nodeSpec.args, which
	// would follow it, stay empty).
	sub []string
	// extra flags and environment of every sidecar.
	extra []string
	envv  []string
	// redisArg, when set, is the sidecars' --redis-addr instead of their
	// proxy (Sentinel and Cluster topologies).
	redisArg string
	// settle, when set, replaces runMix's wait for a leader after each
	// fault: the lock tests, which run no sidecar, wait for a new
	// acquisition instead.
	settle func() error
	// backend, when set, gives a sidecar's backend flags in place of
	// --redis-addr, from its name and its proxy (the kube-lease topology).
	backend func(name string, p *Proxy) []string

	mu    sync.Mutex
	nodes []*node
	seq   int
}

// nodeSpec is what start varies per sidecar.
type nodeSpec struct {
	// redisArg, when set, is this sidecar's --redis-addr instead of the
	// env's choice.
	redisArg string
	// args are flags of this sidecar only, after the env's.
	args []string
	// proxy, when set, prepares the sidecar's proxy before it starts.
	proxy func(*Proxy)
}

// node is one sidecar process.
type node struct {
	name     string
	proxy    *Proxy
	cmd      *exec.Cmd
	apiURL   string
	probeURL string
	logPath  string
	exited   chan struct{}

	mu      sync.Mutex
	dead    bool
	stopped bool // SIGSTOPped
}

func (n *node) alive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.dead && !n.stopped
}

// newEnv starts a Redis and n sidecars with lease TTL ttl.
func newEnv(t *testing.T, n int, ttl time.Duration, extra ...string) *env {
	t.Helper()
	e := newEnvNoNodes(t, ttl, extra...)
	for range n {
		e.start()
	}
	return e
}

func newEnvNoNodes(t *testing.T, ttl time.Duration, extra ...string) *env {
	t.Helper()
	srv := redistest.Start(t)
	e := &env{t: t, redis: srv, hist: NewHistory(), ttl: ttl, dir: logDir(t), addr: srv.Addr(), extra: extra}
	t.Cleanup(e.teardown)
	return e
}

// start launches one more sidecar behind a fresh proxy.
func (e *env) start() *node {
	e.t.Helper()
	return e.startNode(nodeSpec{})
}

// startNode launches one more sidecar as spec says.
func (e *env) startNode(spec nodeSpec) *node {
	e.t.Helper()
	e.mu.Lock()
	e.seq++
	name := "s" + strconv.Itoa(e.seq)
	e.mu.Unlock()
	p, err := NewProxy(e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	if spec.proxy != nil {
		spec.proxy(p)
	}
	ports := redistest.FreePorts(e.t, 2)
	api, probe := ports[0], ports[1]
	redisAddr := p.Addr()
	if e.redisArg != "" {
		redisAddr = e.redisArg
	}
	if spec.redisArg != "" {
		redisAddr = spec.redisArg
	}
	backend := []string{"--redis-addr", redisAddr}
	if e.backend != nil {
		backend = e.backend(name, p)
	}
	args := append(append([]string(nil), e.sub...), "--lock", lockName, "--identity", name)
	args = append(append(args, backend...),
		"--lease-ttl", e.ttl.String(), "--release-timeout", releaseTimeout.String(),
		"--api-addr", "127.0.0.1:"+strconv.Itoa(api),
		"--probe-addr", "127.0.0.1:"+strconv.Itoa(probe),
		"--log-format", "json",
	)
	args = append(args, e.extra...)
	args = append(args, spec.args...)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), e.envv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	n := &node{
		name: name, proxy: p, cmd: cmd,
		apiURL:   "http://127.0.0.1:" + strconv.Itoa(api),
		probeURL: "http://127.0.0.1:" + strconv.Itoa(probe),
		logPath:  filepath.Join(e.dir, name+".log"),
		exited:   make(chan struct{}),
	}
	logf, err := os.Create(n.logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = logf.Write(append(line, '\n'))
			e.hist.Line(name, line)
		}
		_, _ = io.Copy(logf, stderr)
		_ = cmd.Wait()
		_ = logf.Close()
		close(n.exited)
	}()
	e.mu.Lock()
	e.nodes = append(e.nodes, n)
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.waitProbe(ctx, "/healthz"); err != nil {
		e.t.Fatalf("%s: %v\n%s", name, err, n.log())
	}
	return n
}

func (n *node) log() string {
	b, _ := os.ReadFile(n.logPath)
	return string(b)
}

func (n *node) waitProbe(ctx context.Context, path string) error {
	for {
		if code, _, err := get(ctx, n.probeURL+path); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s%s not 200: %w", n.name, path, ctx.Err())
		case <-n.exited:
			return fmt.Errorf("%s exited", n.name)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// status calls GET /leader.
func (n *node) status(ctx context.Context) (int, api.StatusBody, error) {
	code, b, err := get(ctx, n.apiURL+"/leader")
	var lb api.StatusBody
	if err == nil {
		err = json.Unmarshal(b, &lb)
	}
	return code, lb, err
}

// resign calls POST /leader/release with a hold-off.
func (n *node) resign(holdOff time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.apiURL+"/leader/release?hold_off="+holdOff.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: release answered %d", n.name, resp.StatusCode)
	}
	return nil
}

func (e *env) node(name string) *node {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

func (e *env) live() []*node {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*node
	for _, n := range e.nodes {
		if n.alive() {
			out = append(out, n)
		}
	}
	return out
}

// leader waits up to d for a running (not stopped, not dead) node with an
// open term, and returns it.
func (e *env) leader(d time.Duration) *node {
	e.t.Helper()
	n, err := e.awaitLeader(d)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) awaitLeader(d time.Duration) (*node, error) {
	deadline := time.After(d)
	for {
		changed := e.hist.Changed()
		for name := range e.hist.Open() {
			if n := e.node(name); n != nil && n.alive() {
				return n, nil
			}
		}
		select {
		case <-changed:
		case <-deadline:
			return nil, fmt.Errorf("no leader within %v", d)
		}
	}
}

// awaitNewTerm waits up to d for a term with a fence above fence, held by a
// running node.
func (e *env) awaitNewTerm(fence uint64, d time.Duration) (*node, uint64, error) {
	deadline := time.After(d)
	for {
		changed := e.hist.Changed()
		for name, f := range e.hist.Open() {
			if n := e.node(name); f > fence && n != nil && n.alive() {
				return n, f, nil
			}
		}
		select {
		case <-changed:
		case <-deadline:
			return nil, 0, fmt.Errorf("no new term above fence %d within %v", fence, d)
		}
	}
}

// kill sends SIGKILL to n, waits until it is gone and ends its term at the
// moment that was confirmed.
func (e *env) kill(n *node) {
	_ = n.cmd.Process.Kill()
	<-n.exited
	mono := clocks.MonotonicNS()
	n.mu.Lock()
	n.dead = true
	n.mu.Unlock()
	e.hist.Killed(n.name, mono)
	_ = n.proxy.Close()
}

// term sends SIGTERM to n, waits for a graceful exit and returns how long
// it took. A replica that has not exited within exitBound is recorded as
// stuck; one still running after 15s is killed.
func (e *env) term(n *node) time.Duration {
	e.t.Helper()
	start := time.Now()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	e.awaitExit(n, start)
	n.mu.Lock()
	n.dead = true
	n.mu.Unlock()
	e.hist.Killed(n.name, clocks.MonotonicNS()) // only if it never logged its step-down
	_ = n.proxy.Close()
	return time.Since(start)
}

// awaitExit waits for n, sent SIGTERM at start, to exit: past exitBound it
// counts as stuck, and past 15s it is killed.
func (e *env) awaitExit(n *node, start time.Time) {
	select {
	case <-n.exited:
		return
	case <-time.After(time.Until(start.Add(exitBound))):
	}
	select {
	case <-n.exited:
	case <-time.After(time.Until(start.Add(15 * time.Second))):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	e.hist.Stuck(n.name, time.Since(start), exitBound)
}

func (e *env) stop(n *node) {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	_ = n.cmd.Process.Signal(syscall.SIGSTOP)
}

func (e *env) cont(n *node) {
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	n.mu.Lock()
	n.stopped = false
	n.mu.Unlock()
}

// redisClient is a direct client of the env's Redis, not through a proxy.
func (e *env) redisClient() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: e.addr, MaxRetries: -1})
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// assertLive waits until no live replica is stuck: each answers /healthz
// 200, one leads, and every other one follows that leader.
func (e *env) assertLive(d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var last string
	for {
		last = e.liveProblem(ctx)
		if last == "" {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("replicas stuck after %v: %s", d, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *env) liveProblem(ctx context.Context) string {
	nodes := e.live()
	leaders := map[string]bool{}
	bodies := map[string]api.StatusBody{}
	for _, n := range nodes {
		if code, _, err := get(ctx, n.probeURL+"/healthz"); err != nil || code != http.StatusOK {
			return fmt.Sprintf("%s /healthz: %d %v", n.name, code, err)
		}
		code, lb, err := n.status(ctx)
		if err != nil {
			return fmt.Sprintf("%s /leader: %v", n.name, err)
		}
		bodies[n.name] = lb
		if code == http.StatusOK && lb.Leader {
			leaders[n.name] = true
		}
	}
	if len(leaders) != 1 {
		return fmt.Sprintf("%d leaders among %d live replicas: %+v", len(leaders), len(nodes), bodies)
	}
	for name, lb := range bodies {
		if !lb.Leader && !leaders[lb.Holder] {
			return fmt.Sprintf("%s follows %q, which is not the live leader: %+v", name, lb.Holder, bodies)
		}
	}
	return ""
}

// teardown stops every sidecar gracefully, so that their terms are closed
// in the log, and closes the proxies.
func (e *env) teardown() {
	e.mu.Lock()
	nodes := append([]*node(nil), e.nodes...)
	e.mu.Unlock()
	for _, n := range nodes {
		n.mu.Lock()
		dead, stopped := n.dead, n.stopped
		n.mu.Unlock()
		if dead {
			continue
		}
		if stopped {
			e.cont(n)
		}
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	}
	start := time.Now()
	for _, n := range nodes {
		e.awaitExit(n, start)
		n.mu.Lock()
		wasDead := n.dead
		n.dead = true
		n.mu.Unlock()
		e.hist.Killed(n.name, clocks.MonotonicNS()) // only if it never logged its step-down
		_ = n.proxy.Close()
		if e.t.Failed() && !wasDead {
			e.t.Logf("log of %s:\n%s", n.name, tail(n.log(), 60))
		}
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// finish stops every sidecar, checks the history and returns the report.
// Call it once, at the end of a test that recorded terms.
func (e *env) finish() *Report {
	e.t.Helper()
	e.teardown()
	terms, heals, faults, errs := e.hist.Snapshot()
	r := Check(terms, heals)
	r.RecordErrors = append(r.RecordErrors, errs...)
	r.Faults = faults
	r.Stuck = e.hist.StuckReplicas()
	e.t.Log("\n" + r.Table())
	if !r.OK() {
		e.t.Errorf("history violates the checker:\n%s", r.Problems())
		for i, at := range r.overlapAt {
			e.t.Logf("faults up to %v before overlap %d: %v", 10*e.ttl, i, e.hist.FaultsBefore(at, 10*e.ttl))
		}
		if *keepLogs != "" {
			e.t.Logf("sidecar logs kept in %s", e.dir)
		}
	}
	return r
}

// redisDoer is the part of a go-redis client the faults use.
type redisDoer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}
