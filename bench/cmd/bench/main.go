// Command bench measures baton side by side with the tools people would
// otherwise use for leader election — client-go leaderelection on a real
// kube-apiserver, go-redsync/redsync, bsm/redislock — and with the raw
// floor of Redis pub/sub, in one run on one machine, and writes
// results.md, results.json and PNG plots.
//
//	cd bench && go run ./cmd/bench -out results
//
// Everything runs on loopback: a throwaway redis-server, baton sidecars
// built from ../cmd/sidecar, and an envtest kube-apiserver with etcd from
// KUBEBUILDER_ASSETS (see ../hack/tools/kube-assets.sh). Every loop is
// bounded in count and time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/bench/internal/procstat"
	"github.com/baton-dev/baton/internal/redistest"
)

// config is the command line.
type config struct {
	out        string
	quick      bool
	ttl        time.Duration
	handovers  int
	rounds     int
	kubeFast   int
	kubeSlow   int
	crashes    int
	crashSlow  int
	waiters    []int
	scaleN     int
	idleWindow time.Duration
	idleN      int
	loadDur    time.Duration
	loadConns  int
	bsmBackoff time.Duration
	sidecarBin string
	batonSrc   string
	kubeAssets string
	skipKube   bool
	cpuProfile string
	seed       uint64
	only       map[string]bool // steps to run; nil: all
	rerender   bool
	// The core step (make bench-core).
	coreHandovers  int
	coreCrashes    int
	coreCrashTTL   time.Duration
	coreIdleTTL    time.Duration
	coreIdleWindow time.Duration
	// The exec step: `baton run` with bench/cmd/execchild as the job.
	execHandoffs int
	execStarts   int
	// The schedule step: `baton run --schedule` with bench/cmd/runstamp.
	scheduleEvery           time.Duration
	scheduleWindows         int
	scheduleLatencyReplicas int
	scheduleCountWindows    int
	scheduleReplicas        []int
	// The locks step: application locks side by side (locks_config.go).
	locks lockConfig
	// The kube-lease step: baton sidecars with --backend kube-lease.
	kubeLeaseTTL        time.Duration
	kubeLeaseHandovers  int
	kubeLeaseCrashes    int
	kubeLeaseIdleWindow time.Duration
}

// stepNames are the steps -only accepts, in the order they run.
var stepNames = []string{"handover", "waiters", "crash", "idle", "kube-slow", "kube-lease", "sidecar", "exec", "core", "locks", "schedule"}

// kubeSteps are the steps that need a kube-apiserver: client-go's and
// baton's Lease backend.
var kubeSteps = []string{"handover", "crash", "idle", "kube-slow", "kube-lease"}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.out, "out", "results", `directory for results.md, results.json and the plots ("": write none)`)
	fs.BoolVar(&c.quick, "quick", false, "small counts and short windows, for development (about 3 minutes)")
	fs.DurationVar(&c.ttl, "ttl", time.Second, "lease TTL of baton and of the peers' short-timing runs (whole seconds, for the Kubernetes Lease)")
	fs.IntVar(&c.handovers, "handovers", 500, "graceful handovers per Redis tool")
	fs.IntVar(&c.rounds, "rounds", 10, "interleaved rounds the handovers and crashes are split into")
	fs.IntVar(&c.kubeFast, "kube-handovers", 100, "client-go handovers at baton's TTL")
	fs.IntVar(&c.kubeSlow, "kube-handovers-slow", 6, "client-go handovers at its usual 15s/10s/2s timings")
	fs.IntVar(&c.crashes, "crashes", 20, "crash failovers per tool at the bench TTL")
	fs.IntVar(&c.crashSlow, "crashes-slow", 3, "client-go crash failovers at its usual 15s/10s/2s timings")
	waiters := fs.String("waiters", "1,10,100", "waiter counts for handover scaling")
	fs.IntVar(&c.scaleN, "scale-handovers", 300, "handovers per waiter count")
	fs.DurationVar(&c.idleWindow, "idle-window", 10*time.Second, "window over which idle command rates are counted")
	fs.IntVar(&c.idleN, "idle-waiters", 10, "idle waiters in the command-rate window")
	fs.DurationVar(&c.loadDur, "load-duration", 10*time.Second, "duration of the /leader load test")
	fs.IntVar(&c.loadConns, "load-conns", 64, "concurrent keep-alive connections of the /leader load test")
	fs.DurationVar(&c.bsmBackoff, "bsm-backoff", 100*time.Millisecond, "bsm/redislock linear retry interval")
	fs.StringVar(&c.sidecarBin, "sidecar", "", "prebuilt baton binary (default: build ../cmd/sidecar)")
	fs.StringVar(&c.batonSrc, "baton-src", "..", "root of the baton main module, to build the sidecar from")
	fs.StringVar(&c.kubeAssets, "kube-assets", "", "directory with kube-apiserver and etcd (default $KUBEBUILDER_ASSETS)")
	fs.BoolVar(&c.skipKube, "skip-kube", false, "leave out client-go (no kube-apiserver needed)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process to this file")
	fs.Uint64Var(&c.seed, "seed", 0, "random seed for pauses (default: from the clock)")
	fs.BoolVar(&c.rerender, "rerender", false, "measure nothing: rewrite results.md and the plots from the results.json in -out")
	fs.IntVar(&c.coreHandovers, "core-handovers", 200, "core step: graceful handovers between two sidecars")
	fs.IntVar(&c.coreCrashes, "core-crashes", 200, "core step: crash failovers (SIGKILL of the leading sidecar)")
	fs.DurationVar(&c.coreCrashTTL, "core-crash-ttl", 300*time.Millisecond, "core step: lease TTL of the crash failovers")
	fs.DurationVar(&c.coreIdleTTL, "core-idle-ttl", 2*time.Second, "core step: lease TTL of the idle follower")
	fs.DurationVar(&c.coreIdleWindow, "core-idle-window", 20*time.Second, "core step: how long the idle follower's commands are counted")
	fs.IntVar(&c.execHandoffs, "exec-handoffs", 200, "exec step: hand-offs from child to child on SIGTERM of the leading baton run")
	fs.IntVar(&c.execStarts, "exec-starts", 10, "exec step: start-ups of baton run on an uncontended lock")
	fs.DurationVar(&c.scheduleEvery, "schedule-every", time.Second, "schedule step: the replicas' schedule, @every this (whole seconds)")
	fs.IntVar(&c.scheduleWindows, "schedule-windows", 120, "schedule step: windows timed in the latency run (no MONITOR)")
	fs.IntVar(&c.scheduleLatencyReplicas, "schedule-latency-replicas", 3, "schedule step: replicas in the latency run")
	fs.IntVar(&c.scheduleCountWindows, "schedule-count-windows", 20, "schedule step: windows whose commands MONITOR counts, per replica count")
	scheduleReplicas := fs.String("schedule-replicas", "3,30", "schedule step: replica counts whose commands per window are counted")
	c.locks.register(fs)
	fs.DurationVar(&c.kubeLeaseTTL, "kube-lease-ttl", 2*time.Second, "kube-lease step: the sidecars' --lease-ttl (whole seconds, at least 2s)")
	fs.IntVar(&c.kubeLeaseHandovers, "kube-lease-handovers", 100, "kube-lease step: graceful handovers (POST /leader/release) between two sidecars")
	fs.IntVar(&c.kubeLeaseCrashes, "kube-lease-crashes", 20, "kube-lease step: crash failovers (SIGKILL of the leading sidecar)")
	fs.DurationVar(&c.kubeLeaseIdleWindow, "kube-lease-idle-window", 60*time.Second, "kube-lease step: how long an idle leader's and follower's requests are counted, per TTL")
	only := fs.String("only", "", "comma-separated steps to run (default all): "+strings.Join(stepNames, ",")+"; `make bench-core` is -only core")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		quick := map[string]func(){
			"handovers":              func() { c.handovers = 60 },
			"rounds":                 func() { c.rounds = 3 },
			"kube-handovers":         func() { c.kubeFast = 10 },
			"kube-handovers-slow":    func() { c.kubeSlow = 1 },
			"crashes":                func() { c.crashes = 3 },
			"crashes-slow":           func() { c.crashSlow = 0 },
			"scale-handovers":        func() { c.scaleN = 30 },
			"idle-window":            func() { c.idleWindow = 3 * time.Second },
			"idle-waiters":           func() { c.idleN = 3 },
			"load-duration":          func() { c.loadDur = 2 * time.Second },
			"core-handovers":         func() { c.coreHandovers = 30 },
			"core-crashes":           func() { c.coreCrashes = 10 },
			"core-idle-window":       func() { c.coreIdleWindow = 6 * time.Second },
			"exec-handoffs":          func() { c.execHandoffs = 50 },
			"exec-starts":            func() { c.execStarts = 5 },
			"schedule-windows":       func() { c.scheduleWindows = 20 },
			"schedule-count-windows": func() { c.scheduleCountWindows = 5 },
			"kube-lease-handovers":   func() { c.kubeLeaseHandovers = 20 },
			"kube-lease-crashes":     func() { c.kubeLeaseCrashes = 3 },
			"kube-lease-idle-window": func() { c.kubeLeaseIdleWindow = 10 * time.Second },
		}
		for name, f := range quick {
			if !set[name] {
				f()
			}
		}
		c.locks.quick(set)
	}
	if c.kubeAssets == "" {
		c.kubeAssets = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if err := c.locks.validate(); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(*waiters, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err != nil || n < 1 || n > 500 {
			return nil, fmt.Errorf("-waiters: %q is not a count from 1 to 500", s)
		}
		c.waiters = append(c.waiters, n)
	}
	for _, s := range strings.Split(*scheduleReplicas, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n > 100 {
			return nil, fmt.Errorf("-schedule-replicas: %q is not a count from 2 to 100", s)
		}
		c.scheduleReplicas = append(c.scheduleReplicas, n)
	}
	if *only != "" {
		c.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(stepNames, s) {
				return nil, fmt.Errorf("-only: unknown step %q (steps: %s)", s, strings.Join(stepNames, ","))
			}
			c.only[s] = true
		}
	}
	switch {
	case c.ttl < time.Second || c.ttl%time.Second != 0:
		return nil, fmt.Errorf("-ttl must be a whole number of seconds (a Lease holds whole seconds), got %v", c.ttl)
	case c.rounds < 1 || c.handovers < c.rounds:
		return nil, fmt.Errorf("-rounds must be at least 1 and at most -handovers")
	case c.loadConns < 1 || c.loadConns > 1024:
		return nil, fmt.Errorf("-load-conns must be 1 to 1024")
	case c.idleN < 1 || c.idleWindow <= 0 || c.loadDur <= 0 || c.bsmBackoff <= 0:
		return nil, fmt.Errorf("-idle-waiters, -idle-window, -load-duration and -bsm-backoff must be positive")
	case c.coreHandovers < 1 || c.coreCrashes < 1:
		return nil, fmt.Errorf("-core-handovers and -core-crashes must be at least 1")
	case c.execHandoffs < 1 || c.execStarts < 1:
		return nil, fmt.Errorf("-exec-handoffs and -exec-starts must be at least 1")
	case c.scheduleEvery < time.Second || c.scheduleEvery%time.Second != 0:
		return nil, fmt.Errorf("-schedule-every must be a whole number of seconds (window names are RFC 3339 seconds), got %v", c.scheduleEvery)
	case c.scheduleWindows < 1 || c.scheduleCountWindows < 1 || c.scheduleLatencyReplicas < 1 || c.scheduleLatencyReplicas > 100:
		return nil, fmt.Errorf("-schedule-windows and -schedule-count-windows must be at least 1, -schedule-latency-replicas 1 to 100")
	case c.coreCrashTTL < 100*time.Millisecond || c.coreIdleTTL < 100*time.Millisecond || c.coreIdleWindow < c.coreIdleTTL:
		return nil, fmt.Errorf("-core-crash-ttl and -core-idle-ttl must be at least 100ms, and -core-idle-window at least -core-idle-ttl")
	case c.kubeLeaseTTL < 2*time.Second || c.kubeLeaseTTL%time.Second != 0:
		return nil, fmt.Errorf("-kube-lease-ttl must be whole seconds, at least 2s (as baton's --backend kube-lease requires), got %v", c.kubeLeaseTTL)
	case c.kubeLeaseHandovers < 1 || c.kubeLeaseCrashes < 1 || c.kubeLeaseIdleWindow <= 0:
		return nil, fmt.Errorf("-kube-lease-handovers and -kube-lease-crashes must be at least 1, -kube-lease-idle-window positive")
	case c.rerender && c.out == "":
		return nil, errors.New("-rerender needs -out, the directory with results.json")
	case c.needsKube() && c.kubeAssets == "" && !c.rerender:
		return nil, errors.New("no kube-apiserver: set KUBEBUILDER_ASSETS=$(../hack/tools/kube-assets.sh), pass -kube-assets, or -skip-kube")
	}
	if c.seed == 0 {
		c.seed = uint64(time.Now().UnixNano())
	}
	return c, nil
}

// runs reports whether step id is to run.
func (c *config) runs(id string) bool { return c.only == nil || c.only[id] }

// needsKube reports whether the run starts a kube-apiserver: unless
// -skip-kube, when a step that measures client-go runs.
func (c *config) needsKube() bool {
	return !c.skipKube && slices.ContainsFunc(kubeSteps, c.runs)
}

// env is what every measurement shares.
type env struct {
	cfg   *config
	log   *slog.Logger
	dir   string // scratch directory: Redis and sidecar logs
	redis *redistest.Process
	admin *redis.Client // the bench's own connection: INFO, NUMSUB, PTTL
	bin   string        // the baton sidecar binary
	kube  *kubeEnv      // nil with -skip-kube
	audit *auditTail    // the kube-apiserver's audit log of Lease requests
	rng   *rand.Rand
}

// step is one measurement of the run; -only names it by id.
type step struct {
	id, name string
	f        func(context.Context, *env, *Results) error
}

func main() {
	serveHTTPFloorIfAsked()
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if cfg.rerender {
		return rerender(cfg.out)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	if cfg.out != "" {
		if err := os.MkdirAll(cfg.out, 0o755); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "baton-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	res := &Results{Meta: newMeta(cfg)}
	start := time.Now()
	e := &env{cfg: cfg, log: log, dir: dir, rng: rand.New(rand.NewPCG(cfg.seed, cfg.seed>>1|1))}

	if e.bin, err = sidecarBinary(ctx, cfg, dir); err != nil {
		return err
	}
	if e.redis, err = redistest.Launch(ctx, dir); err != nil {
		return err
	}
	defer e.redis.Stop()
	e.admin = redis.NewClient(&redis.Options{Addr: e.redis.Addr(), PoolSize: 4})
	defer e.admin.Close()
	res.Meta.RedisVersion = redisVersion(ctx, e.admin)
	log.Info("redis started", "addr", e.redis.Addr(), "version", res.Meta.RedisVersion)

	if cfg.needsKube() {
		log.Info("starting envtest kube-apiserver", "assets", cfg.kubeAssets)
		e.audit = &auditTail{path: filepath.Join(dir, "kube-audit.log")}
		if e.kube, err = startKube(ctx, cfg.kubeAssets, e.audit.path); err != nil {
			return fmt.Errorf("envtest: %w", err)
		}
		res.Meta.KubeVersion = e.kube.version
	}
	stopKube := func() {
		if e.kube != nil {
			e.kube.stop()
			e.kube = nil
		}
	}
	defer stopKube()

	runSteps := func(steps []step) error {
		for _, s := range steps {
			if !cfg.runs(s.id) {
				continue
			}
			t := time.Now()
			log.Info("step", "name", s.name)
			if err := s.f(ctx, e, res); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			res.Meta.Steps = append(res.Meta.Steps, StepTime{Name: s.name, Seconds: time.Since(t).Seconds()})
		}
		return nil
	}
	if err := runSteps([]step{
		{"handover", "graceful handover", runHandovers},
		{"waiters", "handover with many waiters", runWaiterScaling},
		{"crash", "crash failover", runCrashes},
		{"idle", "idle cost", runIdleCost},
		{"kube-slow", "client-go at 15s/10s/2s", runKubeSlow},
		{"kube-lease", "baton --backend kube-lease on the same kube-apiserver", runKubeLease},
	}); err != nil {
		return err
	}
	// The apiserver and etcd would take CPU from the load test and from
	// the core timings.
	stopKube()
	if err := runSteps([]step{
		{"sidecar", "sidecar resources and /leader load", runSidecarResources},
		{"exec", "exec mode (baton run)", runExec},
		{"core", "core figures (make bench-core)", runCore},
		{"locks", "application locks (TryLock, plain and fair, /locks) side by side", runLocks},
		{"schedule", "schedule mode (baton run --schedule)", runScheduleStep},
	}); err != nil {
		return err
	}

	res.Meta.LoadAvgEnd = procstat.LoadAvg()
	res.Meta.DurationSeconds = time.Since(start).Seconds()
	if cfg.out != "" {
		if res, err = mergePrevious(cfg.out, cfg, res); err != nil {
			return err
		}
	}
	res.finish()
	if cfg.out == "" {
		log.Info("done", "seconds", int(res.Meta.DurationSeconds))
		return nil
	}
	if err := writeResults(cfg.out, res); err != nil {
		return err
	}
	if err := writePlots(cfg.out, res); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	log.Info("done", "out", cfg.out, "seconds", int(res.Meta.DurationSeconds))
	return nil
}

// sidecarBinary returns -sidecar, or builds ../cmd/sidecar into dir.
func sidecarBinary(ctx context.Context, cfg *config, dir string) (string, error) {
	if cfg.sidecarBin != "" {
		return filepath.Abs(cfg.sidecarBin)
	}
	bin := filepath.Join(dir, "baton")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/sidecar")
	cmd.Dir = cfg.batonSrc
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build sidecar in %s: %w\n%s", cfg.batonSrc, err, out)
	}
	return bin, nil
}

func redisVersion(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "unknown"
}

func newMeta(cfg *config) Meta {
	m := Meta{
		Date:        time.Now().UTC().Format(time.RFC3339),
		GoVersion:   runtime.Version(),
		CPUs:        runtime.NumCPU(),
		CPUModel:    cpuModel(),
		LoadAvgBeg:  procstat.LoadAvg(),
		TTL:         cfg.ttl.String(),
		Quick:       cfg.quick,
		BsmBackoff:  cfg.bsmBackoff.String(),
		Rounds:      cfg.rounds,
		Seed:        cfg.seed,
		CommandLine: strings.Join(os.Args[1:], " "),
	}
	return m
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// pause sleeps a random time in [0, maxPause), so that a release falls at a
// random phase of a polling peer's retry schedule.
func (e *env) pause(ctx context.Context, maxPause time.Duration) error {
	if maxPause <= 0 {
		return ctx.Err()
	}
	return sleep(ctx, time.Duration(e.rng.Int64N(int64(maxPause))))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitNumSub waits until channel has at least n subscribers, within limit.
func (e *env) waitNumSub(ctx context.Context, channel string, n int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		m, err := e.admin.PubSubNumSub(ctx, channel).Result()
		if err != nil {
			return err
		}
		if m[channel] >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d subscribers after %v, want %d", channel, m[channel], limit, n)
		}
		if err := sleep(ctx, 500*time.Microsecond); err != nil {
			return err
		}
	}
}

// newClient is one candidate's own Redis client, as each replica has its
// own connection in production.
// Peers get go-redis's defaults; baton's application locks get
// newLockClient's.
func (e *env) newClient(counter *cmdCounter) *redis.Client {
	return e.newClientWith(counter, false)
}

// newLockClient is newClient with ContextTimeoutEnabled, as the sidecar
// sets it and the README advises for pkg/redislock, which then runs its
// calls on the caller's goroutine. The peers keep the default: with it, a
// retry loop that sends at its context's deadline fails with a socket
// timeout instead of its own error.
func (e *env) newLockClient(counter *cmdCounter) *redis.Client {
	return e.newClientWith(counter, true)
}

func (e *env) newClientWith(counter *cmdCounter, contextDeadlines bool) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: e.redis.Addr(), PoolSize: 4, MaxRetries: -1, ContextTimeoutEnabled: contextDeadlines})
	if counter != nil {
		c.AddHook(counter)
	}
	return c
}
