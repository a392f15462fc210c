package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/lease"
	"github.com/baton-dev/baton/pkg/metrics"
	"github.com/baton-dev/baton/pkg/redislock"
)

// store is the election's backend, chosen by --backend: its Locker, the
// readiness check that it answers, and its Redis client (nil with
// kube-lease). Building it makes no network call.
type store struct {
	locker lease.Locker
	// name is the readiness check's name: "redis" or "kube-lease".
	name  string
	ping  func(context.Context) error
	redis redis.UniversalClient
}

// newMetrics registers the sidecar's metrics, whose error counter is the
// backend's: baton_redis_errors_total or baton_kube_lease_errors_total.
func newMetrics(cfg *config, reg prometheus.Registerer) (*metrics.Metrics, error) {
	build := metrics.BuildInfo{Version: version, Revision: buildRevision()}
	if cfg.Backend == backendKubeLease {
		return metrics.NewKubeLease(reg, cfg.Lock, build)
	}
	return metrics.New(reg, cfg.Lock, build)
}

func newStore(cfg *config, m *metrics.Metrics, log *slog.Logger) (*store, error) {
	if cfg.Backend == backendKubeLease {
		// A failed watch is retried by the Locker, not returned: log and
		// count it here.
		l, err := newKubeLeaseLocker(cfg, func(op string, err error) {
			log.Warn("watch of the Lease failed; opening it again", "err", err)
			m.RedisError(op)
		})
		if err != nil {
			return nil, err
		}
		return &store{locker: l, name: backendKubeLease, ping: l.Ping}, nil
	}
	client, err := redisClient(cfg)
	if err != nil {
		return nil, err
	}
	lock, err := redislock.New(client, cfg.Lock, redislock.Options{
		Prefix:      cfg.KeyPrefix,
		MinReplicas: cfg.RedisMinReplicasAck, ReplicaAckTimeout: cfg.RedisReplicaAckTimeout,
		AttemptTimeout: electionAttemptTimeout(cfg),
		// SIGTERM must not wait for a stalled call's socket deadline.
		GuardCalls: true,
	})
	if err != nil {
		_ = client.Close()
		if errors.Is(err, field.ErrInvalid) {
			return nil, usageError("redislock", err)
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	ping := func(ctx context.Context) error {
		if err := client.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis ping: %w", err)
		}
		return nil
	}
	return &store{locker: redislock.NewLocker(lock), name: "redis", ping: ping, redis: client}, nil
}

// close closes the store's connections.
func (s *store) close() {
	if s.redis != nil {
		_ = s.redis.Close()
	}
}
