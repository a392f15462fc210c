// Package lockcore is the engine under pkg/redislock (the lease),
// pkg/locks (the application locks) and pkg/runs (the scheduled runs): the
// keys and their rules, the Lua scripts, the bounded call helpers, the
// shared pub/sub hub, the fair queue's heartbeats, the semaphore's store
// protocol and the fence memory. It is internal: its exported names are for
// those packages and their tests, not a public API. pkg/runs keeps keys and
// scripts of its own, and takes the plumbing of export.go.
//
// The keys of a lock and their rules are described in pkg/redislock's
// documentation; an application's keys (pkg/locks) expire
// Options.KeyGrace after their last lease could have ended, so that names
// do not grow Redis, while the election's never expire. The fair queue is
// <prefix>:{N}:queue and :queue-deadlines, a semaphore's keys are
// <prefix>:{N}:sem:...; see pkg/locks.
//
// # The fair queue's heartbeat (heartbeat.go)
//
// A fair waiter's queue entry is refreshed every heartbeat on a timer of
// its own, not by its tries: a try can wait for a pooled connection, and
// the subscription before it for its confirmation, for longer than the
// entry lives (3 heartbeats), and a live waiter would then be pruned as
// dead and queue again at the end (at 1000 waiters through 3 sidecars, 650
// of them were). The waiters of one queue on one Client share that timer:
// one script per heartbeat refreshes all their entries, so the refresh
// costs the same for 1 waiter or 1000, and cannot be starved by the tries.
// It runs on a connection of its own (refreshconn.go), so that a pool full
// of blocked calls cannot hold it back either.
//
// The refresh also tells the waiters where they stand: it answers each
// entry's rank. A waiter far back in the queue, whose next try could only
// find it still waiting, goes idle: it makes no tries of its own, and the
// refresher wakes it once its rank has come within reach of the front, or
// its entry is gone, or a refresh failed. Idle waiters therefore cost
// nothing beyond the one refresh, however many they are.
//
// The refresh never creates an entry (queue_refresh.lua), so it is safe
// before the first try has queued the waiter and after it has left or
// acquired.
//
// # The pub/sub hub (hub.go)
//
// Every Watcher of one Client shares one pub/sub connection, so a
// thousand waiters cost one connection and one SUBSCRIBE each on it rather
// than a thousand dials (which, with a connection per waiter, took seconds
// under load and left waiters blind meanwhile).
//
// A hub holds one go-redis PubSub at a time (a hubConn), with a reference
// count per channel: the first Watcher of a channel SUBSCRIBEs it, and the
// last one to leave UNSUBSCRIBEs it. The connection is closed hubLinger
// after the hub's last Watcher left, unless another joined meanwhile, so
// that a program that closes its client leaks nothing for longer. Its
// reader routes each message to the Watchers of its channel (one pending
// wake-up each, coalesced), and each subscription confirmation to the
// Watchers that wait for it.
//
// The connection is replaced (closed, a new one opened, every live channel
// subscribed again on it) when it fails, when a SUBSCRIBE or UNSUBSCRIBE
// has not been confirmed within its watchers' SubscribeTimeout (a peer that
// went silent: go-redis has no timeout for that), or when a health ping
// gets no answer. Messages during the gap are lost, so once a channel is
// confirmed on the new connection, each of its Watchers is woken once.
package lockcore
