package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/redislock"
)

// redisClient builds the election's client for the configured mode. It
// reads the TLS files but does not connect: go-redis dials lazily.
func redisClient(c *config) (redis.UniversalClient, error) {
	// A sidecar makes a handful of calls per TTL: keep the pool small.
	return newRedisClient(c, 4, "baton:"+c.Identity)
}

// newRedisClient builds a client for the configured mode with poolSize
// connections, named name in CLIENT LIST.
func newRedisClient(c *config, poolSize int, name string) (redis.UniversalClient, error) {
	tlsConfig, err := redisTLS(c)
	if err != nil {
		return nil, err
	}
	// Every command is also bounded by its context (the renew deadline);
	// these timeouts only cap what has no deadline of its own. They never
	// cut a renewal's round trip below renew-deadline − renew-interval,
	// which may not cost a term.
	timeout := max(min(5*time.Second, c.RenewInterval), c.RenewDeadline-c.RenewInterval)
	opts := &redis.UniversalOptions{
		Addrs:                 c.RedisAddrs,
		MasterName:            c.RedisMasterName,
		Username:              c.RedisUsername,
		Password:              c.RedisPassword,
		SentinelPassword:      c.RedisSentinelPassword,
		DB:                    c.RedisDB,
		TLSConfig:             tlsConfig,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		// One retry covers a stale pooled connection; the elector's own
		// retry and deadline logic handles the rest.
		MaxRetries: 1,
		// No idle connections are opened ahead: nothing dials before the
		// election starts.
		PoolSize:   poolSize,
		ClientName: name,
	}
	switch c.RedisMode {
	case modeCluster:
		return redis.NewClusterClient(opts.Cluster()), nil
	case modeSentinel:
		return redis.NewFailoverClient(opts.Failover()), nil
	default:
		return redis.NewClient(opts.Simple()), nil
	}
}

// electionAttemptTimeout is the election lock's bound on one call to
// Redis: redislock's default (0), unless a renewal may take longer. A
// renewal may use renew-deadline − renew-interval (plus the replica-ack
// wait), and the attempt timeout must not cut it shorter.
func electionAttemptTimeout(c *config) time.Duration {
	rtt := c.RenewDeadline - c.RenewInterval
	if rtt <= redislock.DefaultAttemptTimeout {
		return 0
	}
	if c.RedisMinReplicasAck > 0 {
		rtt += c.RedisReplicaAckTimeout
	}
	return rtt
}

func redisTLS(c *config) (*tls.Config, error) {
	if !c.RedisTLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.RedisTLSServerName}
	if c.RedisCAFile != "" {
		pem, err := os.ReadFile(c.RedisCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --redis-ca-file: %v", errUsage, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: --redis-ca-file: no PEM certificate in %s", errUsage, c.RedisCAFile)
		}
		cfg.RootCAs = pool
	}
	if c.RedisCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.RedisCertFile, c.RedisKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --redis-cert-file/--redis-key-file: %v", errUsage, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
