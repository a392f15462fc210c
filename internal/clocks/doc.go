// Package clocks holds the platform clocks that the lease's safety rests
// on, behind build tags, so that pkg/redislock and pkg/election build on
// every OS and agree on one default clock.
//
//   - Now is the default clock of a lease's validity. On Linux it counts on
//     CLOCK_BOOTTIME, which keeps running while the machine is suspended:
//     Go's own monotonic clock (CLOCK_MONOTONIC) stops during a suspend, so
//     a replica that resumed would still trust a term whose lease expired in
//     Redis meanwhile. Elsewhere it is time.Now.
//   - MonotonicNS reads CLOCK_MONOTONIC for logs only: every process on a
//     machine shares it, so a fault harness can order the terms of several
//     replicas on one time line.
package clocks
