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
package lockcore
