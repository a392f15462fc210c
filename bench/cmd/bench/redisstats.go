package main

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// cmdCounter is a go-redis hook that counts the commands a client sends, by
// name: the client's side of the lock-store traffic (one EVALSHA is one
// command here, whatever the script runs inside Redis).
type cmdCounter struct {
	mu sync.Mutex
	n  map[string]int64
}

func newCmdCounter() *cmdCounter { return &cmdCounter{n: map[string]int64{}} }

func (c *cmdCounter) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	for _, cmd := range cmds {
		c.n[strings.ToLower(cmd.Name())]++
	}
	c.mu.Unlock()
}

// snapshot returns a copy of the counts.
func (c *cmdCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds...)
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*cmdCounter)(nil)

// benchOwn are the commands the bench itself sends while counting; they are
// left out of every delta.
var benchOwn = map[string]bool{"info": true, "pubsub|numsub": true, "config|resetstat": true}

// statsDelta is after minus before, without the bench's own commands and
// without zero entries.
func statsDelta(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if benchOwn[k] {
			continue
		}
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func sum(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}
