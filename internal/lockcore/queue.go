package lockcore

import (
	_ "embed"
	"time"
)

// queue.lua holds the fair queue's rules as Lua functions; every script
// that touches a queue is compiled with it in front, so that a rule (who is
// the head, when an entry is dead, whom to wake) is written once.
//
//go:embed queue.lua
var queueSource string

// queuePrelude is queue.lua with its rules built as Q, for the scripts
// that always use them; release.lua and fair_acquire.lua build them only
// for a lock with a queue, and take queueSource alone.
var queuePrelude = queueSource + "local Q = queue_rules()\n"

// validateHeartbeat checks and defaults Options.QueueHeartbeat.
func validateHeartbeat(opts *Options) error {
	if opts.QueueHeartbeat == 0 {
		opts.QueueHeartbeat = DefaultQueueHeartbeat
	}
	hb := opts.QueueHeartbeat
	if hb < MinQueueHeartbeat || hb > MaxQueueHeartbeat || hb%time.Millisecond != 0 {
		return invalid("QueueHeartbeat", "must be a whole number of milliseconds from %v to %v (got %v)",
			MinQueueHeartbeat, MaxQueueHeartbeat, hb)
	}
	return nil
}

// entryLifetime is how long a queue entry lives after its last refresh, in
// Redis server time.
func entryLifetime(opts Options) time.Duration {
	return QueueMissedHeartbeats * opts.QueueHeartbeat
}

// queueRetryIn is when a queued waiter tries next at the latest: at its
// next heartbeat, which refreshes its entry, or sooner when the one thing
// it waits for can end by itself before that. For the waiter whose turn it
// is (ahead < window) that is the holder's lease, which can expire (a
// crashed holder); for the first waiter behind the window (ahead ==
// window), the entry in front of it, which drops out if its waiter died.
// Nobody else tries between heartbeats unless woken, so one expiry makes
// one waiter try, not the herd.
func queueRetryIn(heartbeat time.Duration, ahead, window int, holderLeft, headLeft time.Duration) time.Duration {
	retry := heartbeat
	if ahead < window && holderLeft > 0 {
		retry = min(retry, holderLeft+wakeSlack)
	}
	if ahead == window && headLeft >= 0 {
		retry = min(retry, headLeft+wakeSlack)
	}
	return retry
}

// QueueKeys returns the fair queue's two keys, sorted sets in the lock's
// hash slot: <prefix>:{name}:queue (owner token by arrival number) and
// <prefix>:{name}:queue-deadlines (owner token by the Redis server time, in
// microseconds, when the entry dies unless refreshed), and the prefix of
// the per-waiter wake channels, <prefix>:{name}:wake:, followed by the
// waiter's owner token.
func (l *Lock) QueueKeys() (queue, deadlines, wakePrefix string) {
	return l.queueKey, l.deadlinesKey, l.wakePrefix
}
