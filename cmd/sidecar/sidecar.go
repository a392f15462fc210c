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
	"github.com/baton-dev/baton/pkg/metrics"
	"github.com/baton-dev/baton/pkg/probes"
	"github.com/baton-dev/baton/pkg/redislock"
)

// httpShutdownTimeout bounds the HTTP servers' shutdown after the elector has
// stepped down and released.
const httpShutdownTimeout = 2 * time.Second

// readinessPingTTL is how long a Redis PING result serves /readyz.
const readinessPingTTL = time.Second

// sidecar is the wired process: Redis client, elector, and the two HTTP
// listeners. Building it makes no network call.
type sidecar struct {
	cfg      *config
	log      *slog.Logger
	client   redis.UniversalClient
	elector  *election.Elector
	apiSrv   *http.Server
	probeSrv *http.Server
	// kube publishes leadership on this pod; nil when --kube is off.
	kube *kube.Publisher
	// httpCancel ends long-polls and event streams at shutdown.
	httpCancel context.CancelFunc
	httpCtx    context.Context
}

// electionFields maps election.Config fields to the flags that set them, so
// that an error from election.New names the flag.
var electionFields = map[string]string{
	"Name":           "lock",
	"Identity":       "identity",
	"LeaseTTL":       "lease-ttl",
	"RenewInterval":  "renew-interval",
	"RenewDeadline":  "renew-deadline",
	"ReleaseTimeout": "release-timeout",
}

func newSidecar(cfg *config, logOut io.Writer) (*sidecar, error) {
	log := newLogger(cfg.LogFormat, cfg.LogLevel, logOut)
	kubeCfg, kubeOffReason, err := kubeRESTConfig(cfg)
	if err != nil {
		return nil, err
	}
	client, err := redisClient(cfg)
	if err != nil {
		return nil, err
	}
	lock, err := redislock.New(client, cfg.Lock, redislock.Options{
		Prefix: cfg.KeyPrefix, Identity: cfg.Identity,
		MinReplicas: cfg.RedisMinReplicasAck, ReplicaAckTimeout: cfg.RedisReplicaAckTimeout,
	})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("%w: --lock: %w", errUsage, err)
	}

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, cfg.Lock, metrics.BuildInfo{Version: version, Revision: buildRevision()})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	elector, err := election.New(election.Config{
		Locker:         election.RedisLocker(lock),
		Name:           cfg.Lock,
		Identity:       cfg.Identity,
		LeaseTTL:       cfg.LeaseTTL,
		RenewInterval:  cfg.RenewInterval,
		RenewDeadline:  cfg.RenewDeadline,
		ReleaseTimeout: cfg.ReleaseTimeout,
		Recorder:       m,
		Logger:         log,
	})
	var ce *election.ConfigError
	if errors.As(err, &ce) {
		_ = client.Close()
		flagName := electionFields[ce.Field]
		if flagName == "" {
			flagName = ce.Field
		}
		return nil, fmt.Errorf("%w: --%s %s", errUsage, flagName, ce.Rule)
	}
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	publisher, err := newKubePublisher(cfg, kubeCfg, elector, reg, log)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	if publisher == nil && cfg.Kube != kubeOff {
		log.Info("kubernetes publisher off", "reason", kubeOffReason)
	}

	apiHandler, err := api.NewHandler(elector, api.Options{DefaultHoldOff: cfg.ResignHoldOff, Logger: log})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	ping := func(ctx context.Context) error {
		if err := client.Ping(ctx).Err(); err != nil {
			m.RedisError(metrics.OpPing)
			return fmt.Errorf("redis ping: %w", err)
		}
		return nil
	}
	readiness := map[string]probes.Checker{"election": probes.Running(elector)}
	switch cfg.ReadyWhen {
	case "leader":
		readiness["leader"] = probes.Leader(elector)
	default:
		readiness["redis"] = probes.CachedPing(ping, readinessPingTTL, nil)
	}
	probeMux, err := probes.NewMux(probes.MuxOptions{
		Liveness:  map[string]probes.Checker{"election": probes.ElectionLoop(elector)},
		Readiness: readiness,
		Gatherer:  reg,
		Logger:    log,
	})
	if err != nil {
		_ = client.Close()
		return nil, err
	}

	httpCtx, httpCancel := context.WithCancel(context.Background())
	base := func(net.Listener) context.Context { return httpCtx }
	return &sidecar{
		cfg:        cfg,
		log:        log,
		client:     client,
		elector:    elector,
		apiSrv:     &http.Server{Handler: apiHandler, ReadHeaderTimeout: 5 * time.Second, BaseContext: base},
		probeSrv:   &http.Server{Handler: probeMux, ReadHeaderTimeout: 5 * time.Second, BaseContext: base},
		httpCtx:    httpCtx,
		httpCancel: httpCancel,
		kube:       publisher,
	}, nil
}

// run serves until the first SIGTERM or SIGINT, then steps down, releases
// the lock, stops the servers and returns.
func (s *sidecar) run() error {
	defer s.client.Close()
	defer s.httpCancel()
	apiLn, err := net.Listen("tcp", s.cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	probeLn, err := net.Listen("tcp", s.cfg.ProbeAddr)
	if err != nil {
		_ = apiLn.Close()
		return fmt.Errorf("--probe-addr: %w", err)
	}
	ctx, stop := signalContext(s.log)
	defer stop()

	s.log.Info("baton starting", "version", version, "lock", s.cfg.Lock, "identity", s.cfg.Identity,
		"redis_mode", s.cfg.RedisMode, "redis_addr", s.cfg.RedisAddrs, "lease_ttl", s.cfg.LeaseTTL.String(),
		"renew_interval", s.cfg.RenewInterval.String(), "renew_deadline", s.cfg.RenewDeadline.String(),
		"api_addr", apiLn.Addr().String(), "probe_addr", probeLn.Addr().String(), "ready_when", s.cfg.ReadyWhen)

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
	stopKube := s.startKube()
	electionDone := make(chan error, 1)
	go func() { electionDone <- s.elector.Run(electionCtx) }()

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

	s.httpCancel()
	sctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	_ = s.apiSrv.Shutdown(sctx)
	_ = s.probeSrv.Shutdown(sctx)
	wg.Wait()
	if runErr == nil {
		s.log.Info("baton stopped")
	}
	return runErr
}
