package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/kube"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
	"github.com/baton-dev/baton/pkg/metrics"
	"github.com/baton-dev/baton/pkg/probes"
	"github.com/baton-dev/baton/pkg/redislock"
)

// httpShutdownTimeout bounds the HTTP servers' shutdown after the elector has
// stepped down and released.
const httpShutdownTimeout = 2 * time.Second

// evictionCheckTimeout bounds the start-up check of maxmemory-policy.
const evictionCheckTimeout = 2 * time.Second

// readinessPingTTL is how long a Redis PING result serves /readyz.
const readinessPingTTL = time.Second

// sidecar is the wired process: Redis client, elector, and the two HTTP
// listeners. Building it makes no network call.
type sidecar struct {
	cfg      *config
	log      *slog.Logger
	store    *store
	elector  *election.Elector
	apiSrv   *http.Server
	probeSrv *http.Server
	// kube publishes leadership on this pod; nil when --kube is off.
	kube *kube.Publisher
	// httpCancel ends long-polls and event streams at shutdown.
	httpCancel context.CancelFunc
	// apiLn and probeLn are bound by newSidecar, after every check.
	apiLn, probeLn net.Listener
	// exec runs the job in exec mode (baton run); nil otherwise.
	exec *execRun
	// locks are the application's locks on the API, on lockClient; both
	// nil with --backend kube-lease.
	locks      *httpapi.Locks
	lockClient redis.UniversalClient
}

func newSidecar(cfg *config, logOut io.Writer) (_ *sidecar, err error) {
	log := newLogger(cfg.LogFormat, cfg.LogLevel, logOut)
	routeLibraryLogs(log)
	kubeCfg, kubeOffReason, err := kubeRESTConfig(cfg)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	m, err := newMetrics(cfg, reg)
	if err != nil {
		return nil, err
	}
	st, err := newStore(cfg, m, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	ec := cfg.electionConfig()
	ec.Locker, ec.Recorder, ec.Logger = st.locker, m, log
	// Bound early, so that exec mode can tell the job the API's real
	// address (--api-addr may have port 0). Binding is no Redis call.
	apiLn, probeLn, err := listen(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = apiLn.Close()
			_ = probeLn.Close()
		}
	}()
	var (
		exec    *execRun
		elector *election.Elector
	)
	if cfg.Exec.Command != nil {
		em, err := metrics.NewExec(reg)
		if err != nil {
			return nil, err
		}
		exec, err = newExecRun(cfg, "http://"+apiLn.Addr().String(), func() *election.Elector { return elector }, em, log)
		if err != nil {
			return nil, err
		}
		ec.OnStartedLeading = exec.sup.Lead
	}
	var publisher *kube.Publisher
	if kubeCfg != nil {
		ec.OnStartedLeading = unmarkBeforeRelease(ec.OnStartedLeading, func() *kube.Publisher { return publisher })
	}
	elector, err = election.New(ec)
	if err != nil {
		return nil, usageError("election", err)
	}
	var child api.ChildSource
	if exec != nil {
		child = childSource{exec.sup}
	}
	var (
		routes     []api.Routes
		locks      *httpapi.Locks
		lockClient redis.UniversalClient
	)
	// The application locks and the runs stand on Redis: with
	// --backend kube-lease the API serves neither.
	if cfg.Backend == backendRedis {
		locks, lockClient, err = newLocks(cfg, reg, log)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				_ = lockClient.Close()
			}
		}()
		runs, err := newRuns(cfg, lockClient, reg, log)
		if err != nil {
			return nil, err
		}
		routes = []api.Routes{locks, runs}
	}
	apiHandler, err := api.NewHandler(elector, api.Options{
		Routes:         routes,
		Child:          child,
		DefaultHoldOff: cfg.ResignHoldOff,
		AllowedHosts:   cfg.APIAllowedHosts,
		Token:          cfg.APIToken,
		MaxWatchers:    cfg.APIMaxWatchers,
		Logger:         log,
	})
	if err != nil {
		return nil, usageError("api", err)
	}
	probeMux, err := newProbeMux(cfg, st, elector, m, log)
	if err != nil {
		return nil, err
	}
	probeMux.Handle("GET "+metrics.Path, metrics.Handler(reg))

	httpCtx, httpCancel := context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			httpCancel()
		}
	}()
	serverOpts := api.ServerOptions{BaseContext: func(net.Listener) context.Context { return httpCtx }, Logger: log}
	apiSrv, err := api.NewServer(apiHandler, serverOpts)
	if err != nil {
		return nil, err
	}
	probeSrv, err := api.NewServer(probeMux, serverOpts)
	if err != nil {
		return nil, err
	}
	// Last, so that every configuration error comes before this log line.
	publisher, err = newKubePublisher(cfg, kubeCfg, elector, reg, log)
	if err != nil {
		return nil, err
	}
	if publisher == nil && cfg.Kube != kubeOff {
		log.Info("kubernetes publisher off", "reason", kubeOffReason)
	}
	return &sidecar{
		cfg:        cfg,
		log:        log,
		store:      st,
		elector:    elector,
		apiSrv:     apiSrv,
		probeSrv:   probeSrv,
		httpCancel: httpCancel,
		kube:       publisher,
		apiLn:      apiLn,
		probeLn:    probeLn,
		exec:       exec,
		locks:      locks,
		lockClient: lockClient,
	}, nil
}

// warnEvictionPolicy warns, best effort, when Redis may evict the lease's
// keys: only maxmemory-policy noeviction keeps them (see
// redislock.CheckEvictionPolicy). CONFIG may be denied to baton's user, or
// renamed; then it says so at debug level and moves on.
func (s *sidecar) warnEvictionPolicy(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, evictionCheckTimeout)
	defer cancel()
	if s.store.redis == nil {
		return
	}
	policy, risky, err := redislock.CheckEvictionPolicy(ctx, s.store.redis)
	switch {
	case err != nil:
		s.log.Debug("could not read Redis's maxmemory-policy", "err", err)
	case risky:
		s.log.Warn("Redis may evict the lock's keys: set maxmemory-policy noeviction", "maxmemory_policy", policy)
	default:
		s.log.Info("Redis keeps the lock's keys", "maxmemory_policy", policy)
	}
}

// listen binds the API and probe listeners.
func listen(cfg *config) (apiLn, probeLn net.Listener, err error) {
	apiLn, err = net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("--api-addr: %w", err)
	}
	probeLn, err = net.Listen("tcp", cfg.ProbeAddr)
	if err != nil {
		_ = apiLn.Close()
		return nil, nil, fmt.Errorf("--probe-addr: %w", err)
	}
	return apiLn, probeLn, nil
}

// newProbeMux serves /healthz and /readyz for --ready-when.
func newProbeMux(cfg *config, st *store, elector *election.Elector, m *metrics.Metrics, log *slog.Logger) (*http.ServeMux, error) {
	ping := func(ctx context.Context) error {
		err := st.ping(ctx)
		if err != nil {
			m.RedisError(metrics.OpPing)
		}
		return err
	}
	readiness := map[string]probes.Checker{"election": probes.Running(elector)}
	switch cfg.ReadyWhen {
	case "leader":
		readiness["leader"] = probes.Leader(elector)
	default:
		readiness[st.name] = probes.CachedPing(ping, readinessPingTTL, nil)
	}
	return probes.NewMux(probes.MuxOptions{
		Liveness:  map[string]probes.Checker{"election": probes.ElectionLoop(elector)},
		Readiness: readiness,
		Logger:    log,
	})
}

// shutdownBound is how long the process takes at most from the first
// SIGTERM to its exit, whatever Redis does: the election's release and the
// application locks' (side by side) within --release-timeout, and the HTTP
// shutdown within httpShutdownTimeout; in exec mode the job's stop first,
// within --kill-grace.
func (s *sidecar) shutdownBound() time.Duration {
	d := s.cfg.ReleaseTimeout + httpShutdownTimeout
	if s.exec != nil {
		d += s.cfg.Exec.KillGrace
	}
	return d
}

// run serves until the first SIGTERM or SIGINT, then steps down, releases
// the lock, stops the servers and returns the process's exit code: in exec
// mode the job's status (see execRun.exitStatus), otherwise 0.
func (s *sidecar) run() (int, error) {
	defer s.store.close()
	if s.lockClient != nil {
		defer s.lockClient.Close()
	}
	defer s.httpCancel()
	apiLn, probeLn := s.apiLn, s.probeLn
	ctx, stop := signalContext(s.log, s.signalHooks())
	defer stop()

	where := []any{"redis_mode", s.cfg.RedisMode, "redis_addr", s.cfg.RedisAddrs}
	if s.cfg.Backend == backendKubeLease {
		where = []any{"lease_namespace", s.cfg.LeaseNamespace}
	}
	s.log.Info("baton starting", append([]any{"version", version, "lock", s.cfg.Lock, "identity", s.cfg.Identity,
		"backend", s.cfg.Backend}, append(where, "lease_ttl", s.cfg.LeaseTTL.String(),
		"renew_interval", s.cfg.RenewInterval.String(), "renew_deadline", s.cfg.RenewDeadline.String(),
		"api_addr", apiLn.Addr().String(), "probe_addr", probeLn.Addr().String(), "ready_when", s.cfg.ReadyWhen)...)...)

	var wg sync.WaitGroup
	serveErr := make(chan error, 2)
	for _, l := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.apiSrv, apiLn}, {s.probeSrv, probeLn}} {
		wg.Go(func() {
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		})
	}

	electionCtx, cancelElection := context.WithCancel(ctx)
	defer cancelElection()
	// The shutdown starts when the election's context ends: at the first
	// signal, or when the job or a server ended the process.
	stopping := make(chan time.Time, 1)
	context.AfterFunc(electionCtx, func() { stopping <- time.Now() })
	if s.exec != nil {
		s.exec.setStop(cancelElection)
		stopReaper := s.startReaper()
		defer stopReaper()
	}
	go s.warnEvictionPolicy(electionCtx)
	stopKube := s.startKube()
	electionDone := make(chan error, 1)
	go func() { electionDone <- s.elector.Run(electionCtx) }()
	// The application's locks are released alongside the election's
	// release, not after it: at the first signal in sidecar mode, and in
	// exec mode once the job, which may hold them, has stopped.
	trigger := electionCtx.Done()
	if s.exec != nil {
		trigger = s.exec.stoppedAfter(trigger, s.cfg.ReleaseTimeout)
	}
	locksReleased := s.releaseLocksAt(trigger)

	var runErr error
	select {
	case runErr = <-electionDone:
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
		cancelElection()
		<-electionDone
	}
	// The elector has stepped down and released: publish that, and
	// leader=false, for the last time.
	stopKube()
	cancelElection()
	<-locksReleased

	s.httpCancel()
	// Within httpShutdownTimeout, and within the shutdown's bound even if
	// the steps before took a little longer than theirs.
	end := (<-stopping).Add(s.shutdownBound())
	if d := time.Now().Add(httpShutdownTimeout); d.Before(end) {
		end = d
	}
	sctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	_ = s.apiSrv.Shutdown(sctx)
	_ = s.probeSrv.Shutdown(sctx)
	wg.Wait()
	if runErr != nil {
		return exitFailed, runErr
	}
	code := exitOK
	if s.exec != nil {
		code = s.exec.exitStatus()
	}
	s.log.Info("baton stopped", "exit_code", code)
	return code, nil
}
