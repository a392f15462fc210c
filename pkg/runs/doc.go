// Package runs gives a scheduled job exactly one successful run per
// window across replicas, counted on Redis's clock, retried on failure,
// and recorded. It stands on the lease engine beside the election and the
// application locks (pkg/locks).
//
// A window is a name for one due run of a job: the start of a schedule's
// window (Schedule, WindowName), or an application's own name such as
// "2026-12-07" or "invoice-4711". Each replica claims the window when it
// is due:
//
//	run, err := job.Claim(ctx, window, time.Minute, closes)
//	if errors.Is(err, runs.ErrSucceeded) { ... }   // done, by whoever
//	...                                            // the work, under run.Fence
//	err = run.Complete(ctx, runs.Succeeded)
//
// # The model
//
// A window's attempts are numbered from 1. A claim starts the next attempt,
// with a fresh fence and a lease, only when the window has not succeeded,
// no attempt's lease holds in Redis server TIME, fewer than
// Options.MaxAttempts attempts have failed, and the close the caller gives
// has not passed in Redis TIME. Otherwise it is refused with a
// *ClaimError saying who ran the window, when, and with which fence.
//
// Only the window's current attempt, while its lease holds in Redis TIME,
// may Renew or Complete; any other gets a *StaleError and writes nothing.
// A success is final: no later claim, by any replica, runs the window
// again. A failed attempt, and a lost one (its lease ran out without a
// completion: a crash, a stalled runner, a lost claim reply) counts toward
// MaxAttempts; a retry never starts before the dead attempt's lease has
// run out in Redis TIME. Fences only grow, per job: max(last + 1, Redis
// TIME in microseconds), so they keep growing when the counter is lost.
//
// Every claim and completion is published on the job's channel, which
// Watch subscribes to, so that waiting replicas can try at once.
//
// # Time
//
// Every decision takes Redis server TIME: lease ends, closes and the
// records' times. A replica's own clock matters only where it computes
// which window is due; schedule users take Job.Now as that time, so that
// replicas with skewed clocks open the same windows. Schedule windows are
// the instants the schedule fires; their names are those instants in RFC
// 3339 in UTC. Around a daylight-saving change a cron time that does not
// exist in the zone is skipped, and one that happens twice is two windows
// (robfig/cron's rules). @every windows are aligned to the Unix epoch.
//
// # Keys and their lifetime
//
// The keys of job J share the hash tag {J}, so they lie in one Cluster
// slot: <prefix>:{J}:run:w:<window> (a window's current attempt),
// :run:fence, :run:records and :run:order (the last Options.Keep runs),
// :run:last (the last success and failure), and the channel :run:events.
// Every write raises the TTL of the keys it writes to at least
// Options.KeyGrace (default 7 days) after the write, after the attempt's
// lease end and after the window's close: a job nobody runs leaves nothing
// behind. A window that closes is refused after its close whether its hash
// exists or not, so its hash lives an hour at most after the close (a job
// of one-second windows keeps an hour of them, not a week). A window
// without a close claimed again after its hash expired runs again; give
// windows a close (Claim's closes), or names that are not reused. A value at these
// keys that baton did not write is never overwritten (ErrForeign).
//
// # Limits
//
// Exactly once holds as far as Redis keeps its writes. A failover to a
// replica that missed a claim or a success, a restart without persistence,
// or a deleted key can let a window run twice: the fences still grow
// (they start from Redis TIME), so a fenced store refuses the older run.
// Redis TIME must not jump backwards by more than a lease. A run's work is
// not undone by a refusal: a runner whose Renew is refused must stop, as
// its window may already be retried elsewhere.
package runs
