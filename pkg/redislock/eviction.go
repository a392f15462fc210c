package redislock

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ConfigGetter is the part of a go-redis client that CheckEvictionPolicy
// uses; every go-redis client satisfies it.
type ConfigGetter interface {
	ConfigGet(ctx context.Context, parameter string) *redis.MapStringStringCmd
}

// CheckEvictionPolicy reads the server's maxmemory-policy (CONFIG GET) and
// reports whether it can evict a lock's keys: risky for every policy but
// noeviction. volatile-* policies evict the lease first (the term record
// then holds candidates off, so the lock is down up to a TTL); allkeys-*
// may evict the counter and the term record too, which breaks fencing. It
// is a best-effort start-up check: CONFIG is often denied, and the error
// then says so. A Cluster client asks the node it picks.
func CheckEvictionPolicy(ctx context.Context, client ConfigGetter) (policy string, risky bool, err error) {
	if client == nil {
		return "", false, fmt.Errorf("%w: nil client", ErrInvalid)
	}
	cfg, err := client.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return "", false, fmt.Errorf("redislock: read maxmemory-policy: %w", err)
	}
	policy, ok := cfg["maxmemory-policy"]
	if !ok {
		return "", false, fmt.Errorf("redislock: read maxmemory-policy: %w: CONFIG GET returned no value", ErrUnexpectedReply)
	}
	return policy, policy != "noeviction", nil
}
