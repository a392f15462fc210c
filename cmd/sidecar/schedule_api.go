package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// scheduleAPI serves schedule mode's API on --api-addr, under the API's
// Host guard, cross-origin check and token: GET /leader (runsapi.Schedule:
// the job's windows and record, read at each request) and the /runs
// routes, as in the other modes. Its Redis client is its own, so that the
// API's calls never queue the run's renewals; it dials at the first
// request, so an idle API costs Redis nothing.
type scheduleAPI struct {
	srv    *http.Server
	ln     net.Listener
	client redis.UniversalClient
	cancel context.CancelFunc // ends the requests that wait, as streams
}

// newScheduleAPI builds the API of s's job, with the run API's metrics on
// reg, and binds --api-addr.
func newScheduleAPI(cfg *config, s *scheduler, reg prometheus.Registerer, log *slog.Logger) (_ *scheduleAPI, err error) {
	client, err := newRedisClient(cfg, lockPoolSize, "baton-api:"+cfg.Identity)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = client.Close()
		}
	}()
	job, err := runs.New(client, cfg.Lock, runs.Options{
		Lease: redislock.Options{Prefix: cfg.KeyPrefix}, Identity: cfg.Identity, MaxAttempts: cfg.Schedule.MaxAttempts,
	})
	if err != nil {
		return nil, usageError("runs", err)
	}
	leader, err := runsapi.NewSchedule(runsapi.ScheduleOptions{
		Job: job, Schedule: s.sched, TimeZone: cfg.Schedule.TimeZone, Identity: cfg.Identity,
		Running: s.running.Load, Logger: log,
	})
	if err != nil {
		return nil, usageError("runsapi", err)
	}
	rs, err := newRuns(cfg, client, reg, log)
	if err != nil {
		return nil, err
	}
	h, err := api.NewRoutesHandler(api.Options{
		Routes:       []api.Routes{leader, rs},
		AllowedHosts: cfg.APIAllowedHosts,
		Token:        cfg.APIToken,
		MaxWatchers:  cfg.APIMaxWatchers,
		Logger:       log,
	})
	if err != nil {
		return nil, usageError("api", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := api.NewServer(h, api.ServerOptions{BaseContext: func(net.Listener) context.Context { return ctx }, Logger: log})
	if err != nil {
		cancel()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("--api-addr: %w", err)
	}
	return &scheduleAPI{srv: srv, ln: ln, client: client, cancel: cancel}, nil
}

// serve serves until stop, which ends the waiting requests, shuts the
// server down within httpShutdownTimeout and closes its Redis client.
func (a *scheduleAPI) serve(log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server failed", "err", err)
		}
	}()
	return func() {
		a.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		defer cancel()
		_ = a.srv.Shutdown(ctx)
		<-done
		_ = a.client.Close()
	}
}
