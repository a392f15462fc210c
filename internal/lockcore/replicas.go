package lockcore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipeliner is a client that can pipeline commands on one connection.
type pipeliner interface {
	Pipeline() redis.Pipeliner
}

// validateReplicas checks and defaults the MinReplicas options.
func validateReplicas(client Client, opts *Options) error {
	if opts.MinReplicas < 0 {
		return invalid("MinReplicas", "must not be negative (got %d)", opts.MinReplicas)
	}
	if opts.ReplicaAckTimeout == 0 {
		opts.ReplicaAckTimeout = DefaultReplicaAckTimeout
	}
	// WAIT counts in milliseconds, and WAIT n 0 blocks for ever.
	if opts.ReplicaAckTimeout < time.Millisecond || opts.ReplicaAckTimeout%time.Millisecond != 0 {
		return invalid("ReplicaAckTimeout", "must be a positive whole number of milliseconds (got %v)", opts.ReplicaAckTimeout)
	}
	if opts.MinReplicas == 0 {
		return nil
	}
	// A Cluster or Ring pipeline can put WAIT on another shard than the
	// script, where it counts the wrong writes.
	switch client.(type) {
	case *redis.ClusterClient:
		return invalid("MinReplicas", "needs a standalone or Sentinel client, not Cluster")
	case *redis.Ring:
		return invalid("MinReplicas", "needs a standalone or Sentinel client, not Ring")
	}
	if _, ok := client.(pipeliner); !ok {
		return invalid("MinReplicas", "needs a client with Pipeline")
	}
	return nil
}

// evalReply is a script's reply and, with MinReplicas, the replicas that
// acknowledged it.
type evalReply struct {
	reply []any
	acked int
}

// eval runs script; with MinReplicas it is followed by WAIT in the same
// pipeline, so that WAIT counts the replicas that have the script's writes:
// it must run on the same connection. A NOSCRIPT reply loads the script and
// tries once more. A WAIT that fails counts as no acknowledgement.
func (l *Lock) eval(ctx context.Context, script *redis.Script, keys []string, args []any) (evalReply, error) {
	if l.opts.MinReplicas == 0 {
		reply, err := script.Run(ctx, l.client, keys, args...).Slice()
		return evalReply{reply: reply}, err
	}
	p := l.client.(pipeliner) // checked in New
	for attempt := 0; ; attempt++ {
		pipe := p.Pipeline()
		run := pipe.EvalSha(ctx, script.Hash(), keys, args...)
		wait := pipe.Do(ctx, "WAIT", l.opts.MinReplicas, l.opts.ReplicaAckTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		if err := run.Err(); err != nil {
			if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				if err := script.Load(ctx, l.client).Err(); err != nil {
					return evalReply{}, err
				}
				continue
			}
			return evalReply{}, err
		}
		reply, err := run.Slice()
		if err != nil {
			return evalReply{}, err
		}
		acked, err := wait.Int64()
		if err != nil {
			acked = 0
		}
		return evalReply{reply: reply, acked: int(acked)}, nil
	}
}

// replicated returns a *NotReplicatedError when MinReplicas is set and r
// was acknowledged by fewer replicas.
func (l *Lock) replicated(op string, r evalReply) error {
	if l.opts.MinReplicas == 0 || r.acked >= l.opts.MinReplicas {
		return nil
	}
	return &NotReplicatedError{Op: op, Lock: l.name, Acked: r.acked, Want: l.opts.MinReplicas, Timeout: l.opts.ReplicaAckTimeout}
}
