// Package chaos is baton's fault suite: real sidecar processes and real
// redis-server processes on loopback, an in-process TCP fault proxy between
// each sidecar and Redis, and a checker that proves mutual exclusion from
// the recorded history.
//
// Every sidecar logs "started leading" and "stopped leading" with
// CLOCK_MONOTONIC stamps (mono_ns, valid_until_mono_ns). The harness reads
// the same clock, so the terms of all replicas, and the faults the harness
// injects, lie on one time line. A term ends at the earlier of its logged
// step-down and its validity deadline; a term of a process killed with
// SIGKILL ends when the harness has seen the process die.
//
// The checker (Check) proves that no two terms overlap, that fences grow
// strictly from term to term, and that a leader exists again within a
// bound after each fault heals. It reports the largest failover gap and the
// smallest safety margin (next start minus previous end). A replica that has
// not exited within its bound after SIGTERM (--release-timeout, then the
// HTTP servers' shutdown, plus slack) counts as stuck, and fails the report
// too.
//
// The faults: kill -9, SIGSTOP and SIGTERM of the leader, resign through the
// API, Redis restarts without persistence, FLUSHALL, CLIENT PAUSE, killed
// pub/sub connections, and in each sidecar's proxy latency, a blackhole, a
// pub/sub connection that goes silent after SUBSCRIBE, and one stalled
// pooled connection; the loss of the lease key alone with a new replica
// started right after it; and, against Sentinel, a failover that loses an
// unreplicated lease and a partition that leaves the leader with the old
// primary.
//
// The lock tests (locks_test.go) run application locks, not sidecars,
// under the faults of the mix that hit clients: several in-process holders
// of one name, each with its own go-redis client behind its own proxy, take
// TryLock on a Mutex (watchdog and lease time, plain and fair) and on a
// Semaphore; Check proves that no two mutex sections overlap (a section
// ends at the earlier of Release and Lost), with fences growing, and
// CheckConcurrency that no more than the permits are held at once.
// -chaos.locks-duration sets the length of each run.
//
// The lock API test (lockapi_test.go, TestChaosLockAPI) runs the
// sidecar's lock API through real sidecars: HTTP clients in this process
// loop on one lock (stream and lease form, plain and fair) and on a
// 1-permit and a 2-permit semaphore, while faults in their sidecar's proxy
// are timed to hit their acquires, renewals, DELETEs and stream closes,
// and FLUSHALL comes with a freshly started sidecar. CheckGrants proves
// that no name has more holders than its limit, a grant ending when its
// holder gave it back or was told it ended (or its lease ran out), and that
// every holder was told before the next grant; then every sidecar must
// grant all its --locks-max-held slots again. -chaos.lockapi-duration sets
// its length. The exec topology (exec_test.go) stops baton alone, not its
// job, beyond the TTL: the job must be dead before the lease can expire.
//
// The schedule topology (schedule_test.go, TestChaosSchedule) runs three
// `baton run --schedule '@every 1s'` replicas of one job on a Redis that
// keeps its data, under kill -9, SIGSTOP of baton alone (shorter and
// longer than the TTL), Redis restarts and latency; CheckSchedule proves
// from the job's stamps and its record (pkg/runs) that no window succeeds
// twice, no two attempts of a window overlap, and no window is missed
// while Redis was up and a replica healthy (the rule is in ScheduleInput).
// -chaos.schedule-duration sets its length.
//
// The Lease topology (kubelease_test.go, TestChaosKubeLease) runs three
// `baton run --backend kube-lease` replicas on a real kube-apiserver
// (envtest), each through its own proxy, under the API server blackholed
// or restarted, latency, dropped watches, the Lease deleted by hand,
// kill -9 and SIGSTOP; the terms and the jobs' stamps must not overlap.
// -chaos.kubelease-duration sets its length.
//
// Run the short seeded run with `go test ./test/chaos`, and the long one
// with `make chaos` (go test ./test/chaos -run TestChaos -chaos.duration=10m).
// -chaos.logs DIR keeps every sidecar's log; -chaos.sidecar BIN runs another
// build of the sidecar, to show that a test fails on code without a fix.
package chaos
