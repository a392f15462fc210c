// Package runsapi serves the runs of pkg/runs over HTTP, so that an
// application that schedules itself, in any language, gets exactly one
// successful run per window across its replicas through its sidecar.
// Mounted on pkg/api's handler (Runs implements api.Routes), the routes
// share its Host guard, cross-origin check and token; every POST changes
// state. The runs live on Redis keys of their own (DefaultPrefix):
//
//	POST /runs/{job}/claim?window=W&lease=1m      start the next attempt of
//	                         window W: 200 RunBody (X-Baton-Fence), or 409
//	                         ConflictBody with state succeeded, running,
//	                         exhausted or closed, and the window's current
//	                         attempt: who ran it, when, with which fence;
//	                         &closes=T (RFC 3339): no attempt starts after T
//	POST /runs/{job}/stream?window=W&lease=15s    claim held for the life of
//	                         the response: 409 as a claim, or 200 with
//	                         application/x-ndjson RunEvents (claimed,
//	                         keepalive, then completed or lost), renewed by
//	                         a watchdog; complete with the run_id, then
//	                         close: a close without complete fails it
//	POST /runs/{job}/renew?run_id=R               extend the lease: 200
//	                         RunBody, 409 (state stale) when R is no longer
//	                         its window's current running attempt
//	POST /runs/{job}/complete?run_id=R&status=ok  record the end, ok or
//	                         failed: 200 CompleteBody, 409 (state stale)
//	                         when R is no longer the current attempt; a
//	                         resend with the same status answers 200
//	GET  /runs/{job}                              InfoBody: last success,
//	                         last failure, running now, the recent runs
//
// W is the application's own name for the window, such as "2026-12-07" or
// "2026-12-07T03:00:00Z": 1 to 128 characters of A-Z a-z 0-9 . _ : -. A
// job's name is 1 to 128 characters of A-Z a-z 0-9 . _ -. Every parameter
// is checked before any Redis call: a bad one gets a 400 that names it.
// A Redis error gets a 503; the call may have run in Redis, and a retry
// is safe: a claim whose answer was lost leaves an attempt that counts as
// lost (ended at once when Redis answers, else when its lease runs out; a
// retry meanwhile gets 409 running), and a renew or complete resent with
// the same run_id answers as the first.
//
// A window without closes is remembered 7 days after its last write; one
// claimed again later runs again. Give windows a close, or names that are
// not reused.
//
// Schedule serves GET /leader of schedule mode (`baton run --schedule`),
// which runs no election: the scheduled job's windows, whether a run of
// this replica's is going on, and its last run, success and failure
// (ScheduleBody), read from Redis at each request.
//
// The API keeps no run in memory: renew and complete find the run by its
// run_id in Redis, so any sidecar on the same Redis serves them. A run is
// the caller's to renew within its lease: one not renewed loses its window
// to the next claim, as a lost attempt.
package runsapi
