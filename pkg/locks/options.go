package locks

import (
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/redislock"
)

// Defaults of Options.
const (
	// DefaultWatchdogTimeout is the lease a watchdog renews, as in Redisson.
	DefaultWatchdogTimeout = lockcore.DefaultWatchdogTimeout
	// DefaultQueueHeartbeat is how often a fair waiter refreshes its entry.
	DefaultQueueHeartbeat = lockcore.DefaultQueueHeartbeat
	// DefaultKeyGrace is how long a name's keys outlive its last lease.
	DefaultKeyGrace = lockcore.DefaultKeyGrace
	// MaxPermits is the largest number of permits of a Semaphore.
	MaxPermits = lockcore.MaxPermits
)

// Options tunes a Mutex or a Semaphore. The zero value is valid.
type Options struct {
	// Lease holds the options of the lease underneath: key prefix, clock,
	// call bounds, replicas. MinReplicas is refused by a Semaphore.
	Lease redislock.Options
	// Identity names the holder in Redis. Default "<hostname>:<pid>".
	Identity string
	// WatchdogTimeout is the lease of a TryLock with lease time 0, renewed
	// every third of it until Release. Default 30s.
	WatchdogTimeout time.Duration
	// Fair makes waiters take the lock in arrival order. Default false.
	Fair bool
	// QueueHeartbeat is how often a fair waiter refreshes its queue entry;
	// an entry missing 3 heartbeats drops out. Default 500ms, from 10ms to
	// 1m, whole milliseconds.
	QueueHeartbeat time.Duration
	// KeyGrace is how long a name's keys outlive its furthest lease.
	// Default 10s, whole milliseconds.
	KeyGrace time.Duration
	// Fences is the memory of fences seen, checked for lost writes; share
	// one across Mutexes built per call. Default: one of the Mutex's own.
	Fences *FenceMemory
}

// core is o in the engine's terms.
func (o Options) core() lockcore.Options {
	l := o.Lease
	return lockcore.Options{
		Prefix: l.Prefix, Now: l.Now, AttemptTimeout: l.AttemptTimeout, GuardCalls: l.GuardCalls,
		SubscribeTimeout: l.SubscribeTimeout, MinReplicas: l.MinReplicas, ReplicaAckTimeout: l.ReplicaAckTimeout,
		Identity: o.Identity, WatchdogTimeout: o.WatchdogTimeout, QueueHeartbeat: o.QueueHeartbeat,
		KeyGrace: o.KeyGrace, Fences: o.Fences,
	}
}
