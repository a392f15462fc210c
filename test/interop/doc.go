// Package interop is the envtest interop test of the kube-lease backend.
//
// On each of -interop.lanes Leases of a real kube-apiserver, one `baton run
// --backend kube-lease` replica, whose job (./stampjob) stamps, and one
// unmodified client-go elector (./clientgo: tools/leaderelection on a
// LeaseLock, ReleaseOnCancel), whose work stamps, hand the Lease back and
// forth. Each handover ends the holder with SIGTERM, SIGKILL or SIGSTOP in
// turn (SIGSTOP for longer than the lease and until the other side took
// over, then SIGCONT); the loser comes back as a follower.
//
// Checked, from the stamps of both sides on the one CLOCK_MONOTONIC of the
// machine, with no slack:
//   - No two leaderships of a Lease share a moment. A baton leadership is
//     its job's life, from its start stamp to its end stamp, or to its death
//     (a pidfd's wake-up, an upper bound) when it was killed: even when baton
//     itself was stopped, its guard must kill the job before the lease can
//     expire. A client-go leadership is its work, from its start stamp to
//     its end stamp or its process's death. client-go has no guard: a
//     stopped elector's interval is cut where all its threads were seen
//     stopped, and the work it does after SIGCONT, until it notices the
//     loss, is counted, not checked.
//   - Every leadership is a handover's successor, in order: none was lost
//     and won again out of turn. One exception is counted, not excused: a
//     client-go elector resumed after SIGCONT may release baton's Lease
//     (client-go's release() reads the Lease, then asks IsLeader of the
//     record it observed before it was stopped); baton then loses that
//     term at its next renewal and wins the Lease again. The next client-go
//     elector starts only once the Lease is baton's again, so that it
//     cannot take the released Lease beside baton's running job; the term
//     won again is the handover's extra, and its job is checked like any.
//   - After each handover the side that lost names the winner: baton's
//     /leader holder, client-go's OnNewLeader.
//
// -interop.freeze also stops a stopped baton's guard and job (a frozen
// node): nothing can stop that job then, and the test must fail.
package interop
