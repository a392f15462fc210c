package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/locks/httpapi"
	"github.com/baton-dev/baton/pkg/metrics"
)

// lockPoolSize is the connection pool of the application locks' Redis
// client: a client of its own, so that the application's lock traffic
// never queues the election's renewals behind it.
const lockPoolSize = 32

// newLocks wires the application locks of the API: their own Redis client
// (which dials lazily), the backend under --locks-key-prefix, their
// metrics on reg, and the --locks-max-held bound.
func newLocks(cfg *config, reg prometheus.Registerer, log *slog.Logger) (_ *httpapi.Locks, _ redis.UniversalClient, err error) {
	client, err := newRedisClient(cfg, lockPoolSize, "baton-locks:"+cfg.Identity)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			_ = client.Close()
		}
	}()
	backend, err := httpapi.NewRedisLocks(client, httpapi.RedisLocksOptions{Prefix: cfg.LocksKeyPrefix, Identity: cfg.Identity})
	if err != nil {
		return nil, nil, usageError("httpapi", err)
	}
	m, err := metrics.NewLocks(reg)
	if err != nil {
		return nil, nil, err
	}
	locks, err := httpapi.NewLocks(backend, httpapi.LocksOptions{MaxHeld: cfg.LocksMaxHeld, Recorder: m, Logger: log})
	if err != nil {
		return nil, nil, usageError("httpapi", err)
	}
	return locks, client, nil
}

// releaseLocksAt releases every application lock and permit once trigger
// is closed, within --release-timeout, and closes the channel it returns
// when done.
func (s *sidecar) releaseLocksAt(trigger <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-trigger
		if s.locks == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ReleaseTimeout)
		defer cancel()
		n, err := s.locks.ReleaseAll(ctx)
		if err != nil {
			s.log.Error("releasing the application's locks", "released", n, "err", fmt.Errorf("shutdown: %w", err))
			return
		}
		s.log.Info("application locks released", "released", n)
	}()
	return done
}
