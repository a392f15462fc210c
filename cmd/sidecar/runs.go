package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/metrics"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// newRuns wires the runs of the API (POST /runs/{job}/claim and the rest)
// on the application locks' Redis client, under --runs-key-prefix, with
// --runs-max-attempts attempts per window, and their metrics on reg.
func newRuns(cfg *config, client redis.UniversalClient, reg prometheus.Registerer, log *slog.Logger) (*runsapi.Runs, error) {
	m, err := metrics.NewRunAPI(reg)
	if err != nil {
		return nil, err
	}
	rs, err := runsapi.NewRedisRuns(client, runsapi.Options{
		Prefix: cfg.RunsKeyPrefix, MaxAttempts: cfg.RunsMaxAttempts, Identity: cfg.Identity, Recorder: m, Logger: log,
	})
	if err != nil {
		return nil, usageError("runsapi", err)
	}
	return rs, nil
}
