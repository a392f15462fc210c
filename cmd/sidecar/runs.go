package main

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// newRuns wires the runs of the API (POST /runs/{job}/claim and the rest)
// on the application locks' Redis client, under --runs-key-prefix, with
// --runs-max-attempts attempts per window.
func newRuns(cfg *config, client redis.UniversalClient, log *slog.Logger) (*runsapi.Runs, error) {
	rs, err := runsapi.NewRedisRuns(client, runsapi.Options{
		Prefix: cfg.RunsKeyPrefix, MaxAttempts: cfg.RunsMaxAttempts, Identity: cfg.Identity, Logger: log,
	})
	if err != nil {
		return nil, usageError("runsapi", err)
	}
	return rs, nil
}
