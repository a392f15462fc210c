package lockcore

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed inspect.lua
	inspectSource string

	inspectScript = redis.NewScript(queuePrelude + inspectSource)
)

// Info is what Inspect saw.
type Info struct {
	// Held says the lock is taken: a try now would not get it.
	Held bool
	// Holder is the holder's identity; "" when free, and also while held in
	// quarantine (the last term may still be valid: see the term record).
	Holder string
	// Fence is the holder's fence, or the last fence issued when free.
	Fence uint64
	// Remaining is the holder's remaining TTL in Redis (of the quarantine,
	// when Holder is ""); 0 when free.
	Remaining time.Duration
	// Queue is the number of live entries in the fair queue (fair
	// waiters).
	Queue int
}

// Inspect reads the lock's state in one read-only script: it writes
// nothing, not even the removal of dead queue entries, which it counts out.
// A foreign value at a lock key gives a *ForeignError. The call is bounded
// by ctx and by Options.AttemptTimeout.
func (l *Lock) Inspect(ctx context.Context) (Info, error) {
	keys := []string{l.leaseKey, l.fenceKey, l.termKey, l.queueKey, l.deadlinesKey}
	reply, err := bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) ([]any, error) {
		return inspectScript.Run(ctx, l.client, keys).Slice()
	}, nil)
	if err != nil {
		return Info{}, fmt.Errorf("redislock: inspect %q: %w", l.name, err)
	}
	switch kind(reply) {
	case "ok":
		if len(reply) != 6 {
			return Info{}, unexpected(reply)
		}
		held, ok1 := reply[1].(int64)
		holder, ok2 := reply[2].(string)
		fence, err := replyUint(reply, 3)
		if err != nil {
			return Info{}, err
		}
		pttl, ok3 := reply[4].(int64)
		queued, ok4 := reply[5].(int64)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return Info{}, unexpected(reply)
		}
		return Info{Held: held == 1, Holder: holder, Fence: fence, Remaining: time.Duration(pttl) * time.Millisecond, Queue: int(queued)}, nil
	case "foreign":
		return Info{}, foreignError(reply)
	}
	return Info{}, unexpected(reply)
}
