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
// reports whether it can evict a lock's keys. It is a best-effort check for
// a startup warning: managed services and ACLs often deny CONFIG, and then
// the error says so and the lock works as before. On a Cluster client it
// asks whichever node the client picks.
//
// Only "noeviction" is safe; risky is true for every other policy:
//
//   - volatile-* (volatile-lru, volatile-lfu, volatile-random,
//     volatile-ttl) evict keys that have a TTL, and the lease is a lock's
//     only key with one: under memory pressure it is the first to go, while
//     its holder still leads on it. The term record (TermKey) then holds
//     every candidate off until the term could have ended, so safety holds,
//     but the lock is down for up to a TTL at each eviction. An application
//     lock's term record has a TTL too (Options.KeyGrace), and can be
//     evicted with its lease.
//   - allkeys-* (allkeys-lru, allkeys-lfu, allkeys-random) may evict any
//     key, the fencing counter and the term record included: with both gone
//     the lease can be taken at once by a candidate that has never seen a
//     fence, and fences restart from Redis server time.
//
// With noeviction a full Redis refuses writes instead: no new term can
// start, but renewals still succeed (they need no memory) and no key is
// lost. A maxmemory of 0 (no limit) evicts nothing whatever the policy, but
// the policy applies the moment someone sets a limit, so it is reported
// all the same.
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
