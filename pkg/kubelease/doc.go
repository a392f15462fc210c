// Package kubelease is a Kubernetes Lease (coordination.k8s.io/v1) backend
// of baton's elector: a pkg/lease Locker that needs no Redis, and that
// writes the Lease exactly as client-go's resourcelock.LeaseLock does, so
// that a baton replica and any client-go leaderelection elector (such as a
// controller-runtime manager) on the same Lease exclude each other.
//
// # The record
//
// The Lease's spec is client-go's record: holderIdentity,
// leaseDurationSeconds (the TTL, in whole seconds), acquireTime, renewTime
// and leaseTransitions. Acquire, renew and release are Updates that carry
// the resourceVersion, so of two writers one gets a conflict; a release
// sets holderIdentity to "" and leaseDurationSeconds to 1, as client-go
// does. An acquire also raises the annotation baton.dev/fence to
// max(previous + 1, now in microseconds): the fencing token, which only
// grows (a client-go holder leaves it as it is).
//
// # Expiry, as client-go counts it
//
// Clocks of different nodes are not compared: a follower counts a holder's
// lease from the moment it observed the record change, on its own clock
// (Options.Clock, CLOCK_BOOTTIME on Linux), plus leaseDurationSeconds. A
// holder's renewal is sent before any follower can observe it, so a holder
// that stops leading before its renewal's send time plus the duration (the
// elector's renew deadline) has stopped before any follower may take over.
//
// client-go tells records apart at whole-second precision (it compares
// them as JSON, with RFC 3339 times): a renewal within the second of the
// one before would not restart its followers' count, while the holder
// counts from it. Renew therefore writes each renewTime in another second
// than the one it replaces, waiting for it if it must, and an elector on a
// Lease renews at most once a second (MinRenewInterval).
//
// # Watch, not polling
//
// A waiting Acquire reads the one Lease and holds one watch on it from the
// Lease's resourceVersion (RBAC: get and watch on that one name, create
// and update for the writes). It tries at once when the Lease is released, and
// exactly when the observed record can have expired. A watch that ends is
// opened again; answers the API server gives while its cache catches up
// ("too large resource version", 410 Gone) lead to a fresh read, and are
// not reported as errors. The expiry timer does not depend on the watch,
// so a follower whose watch is broken still tries when the lease can have
// expired, and is never stuck.
//
// # A Lease deleted by hand
//
// A holder learns that its Lease was deleted only at its next renewal. A
// baton follower that sees the Lease absent therefore waits one lease
// duration from that sight before it creates the Lease, unless its watch
// saw the deletion come right after a release: a read that finds the
// Lease gone, or a write that lost, cannot tell that no one took the
// Lease in between, and a lost write counts the wait again from the next
// sight. A follower that finds no Lease at all waits the same (it holds
// no watch meanwhile: there is no resourceVersion to watch from), so it
// does not see the Lease created and deleted again during its wait: a
// second deletion within a lease of the first can let it create the Lease
// while the replica that created it meanwhile leads, until that replica's
// next renewal. A client-go follower does not wait: with client-go peers, deleting a held
// Lease by hand can give two leaders for up to a renewal interval.
package kubelease
