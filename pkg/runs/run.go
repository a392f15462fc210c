package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
)

// maxLease is the longest lease of a claim.
const maxLease = 24 * time.Hour

// Run is one attempt of a window, claimed by this client: it may run the
// window's work, under its fence, while its lease holds, which is at least
// Lease after the local time taken before the Claim or the last Renew
// that succeeded. Its fields are fixed at the claim.
type Run struct {
	job *Job
	// Window is the window's name; ID is the run's random id, 32 hex
	// digits, which Renew and Complete present.
	Window, ID string
	// Attempt counts the window's attempts, from 1.
	Attempt int
	// Fence is larger than any fence the job issued before.
	Fence uint64
	// Lease is the lease time of the claim and of each Renew.
	Lease time.Duration
	// Start is the claim's Redis server time.
	Start time.Time
}

// Claim starts the next attempt of window, with a lease of lease (whole
// milliseconds, at most 24h), when it may run now: it has not
// succeeded, no attempt's lease holds in Redis time, attempts remain, and
// closes (the window's end; zero for none) has not passed in Redis time.
// Otherwise the error is a *ClaimError. A lost reply leaves an attempt
// that its claimer never ran: it is ended as lost in the background, and
// counts.
func (j *Job) Claim(ctx context.Context, window string, lease time.Duration, closes time.Time) (*Run, error) {
	if err := CheckWindow(window); err != nil {
		return nil, err
	}
	if lease < time.Millisecond || lease%time.Millisecond != 0 || lease > maxLease {
		return nil, invalid("lease", "must be a whole number of milliseconds from 1ms to %v (got %v)", maxLease, lease)
	}
	var closesUS int64
	if !closes.IsZero() {
		// Redis times are microseconds below 2^53, the integers Lua counts.
		if closesUS = closes.UnixMicro(); closesUS <= 0 || closesUS > lockcore.MaxFence {
			return nil, invalid("closes", "must lie between 1970 and 2255 (got %v)", closes)
		}
	}
	id, err := lockcore.NewToken()
	if err != nil {
		return nil, err
	}
	keys := j.keys(window)
	args := []any{window, id, j.opts.Identity, lease.Milliseconds(), j.opts.MaxAttempts, j.opts.Keep,
		j.opts.KeyGrace.Milliseconds(), closesUS, j.channel}
	run := &Run{job: j, Window: window, ID: id, Lease: lease}
	reply, err := j.core.Script(ctx, claimScript, keys, args, func([]any, error) { run.abandon() })
	if err != nil {
		if lockcore.MaybeSent(err) {
			go run.abandon()
		}
		return nil, fmt.Errorf("runs: claim %q window %q: %w", j.Name(), window, err)
	}
	switch state := lockcore.Kind(reply); state {
	case "ok":
		if len(reply) != 4 {
			break
		}
		attempt, ok := reply[2].(int64)
		fence, err1 := lockcore.ReplyUint(reply, 1)
		start, err2 := replyTime(reply, 3)
		if !ok || err1 != nil || err2 != nil {
			break
		}
		run.Attempt, run.Fence, run.Start = int(attempt), fence, start
		return run, nil
	case "succeeded", "running", "exhausted", "closed":
		now, last, err := j.refusal(keys[0], reply)
		if err != nil {
			return nil, err
		}
		e := &ClaimError{Job: j.Name(), Window: window, State: state, Last: last}
		if state == "running" && last != nil {
			e.Remaining = last.LeaseEnd.Sub(now)
		}
		return nil, e
	case "foreign":
		return nil, lockcore.ForeignReply(reply)
	}
	go run.abandon()
	return nil, lockcore.Unexpected(reply)
}

// refusal reads a refusal's {kind, record or ”, now_us}.
func (j *Job) refusal(key string, reply []any) (time.Time, *Record, error) {
	if len(reply) != 3 {
		return time.Time{}, nil, lockcore.Unexpected(reply)
	}
	now, err := replyTime(reply, 2)
	if err != nil {
		return time.Time{}, nil, err
	}
	last, err := replyRecord(key, reply, 1, now)
	return now, last, err
}

// Resume returns the run of id from the job's record, for a process
// that has its id but not its *Run (an API that serves its runs by id).
// A run no longer recorded gives a *StaleError.
func (j *Job) Resume(ctx context.Context, id string) (*Run, error) {
	reply, err := j.inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	now, err := replyTime(reply, 1)
	if err != nil {
		return nil, err
	}
	recs := reply[4].([]any) // checked by inspect
	if len(recs) != 1 {
		return nil, lockcore.Unexpected(reply)
	}
	rec, err := replyRecord(j.records, recs, 0, now)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, &StaleError{Job: j.Name(), RunID: id}
	}
	return &Run{job: j, Window: rec.Window, ID: id, Attempt: rec.Attempt, Fence: rec.Fence, Lease: rec.Lease, Start: rec.Start}, nil
}

// Renew extends the run's lease to Lease from now in Redis time, while it
// is its window's current attempt and its lease holds; otherwise the error
// is a *StaleError and nothing is written. Any other error is a transport
// or server error, and the lease may still hold: retry within it.
func (r *Run) Renew(ctx context.Context) error {
	j := r.job
	reply, err := j.core.Script(ctx, renewScript, j.keys(r.Window),
		[]any{r.ID, r.Lease.Milliseconds(), j.opts.KeyGrace.Milliseconds()}, nil)
	if err != nil {
		return fmt.Errorf("runs: renew %q run %q: %w", j.Name(), r.ID, err)
	}
	return r.ended(reply, "renew")
}

// Complete records the run's end, Succeeded or Failed, while it is its
// window's current attempt and its lease holds; otherwise the error is a
// *StaleError and nothing is written. A success is final. Completing again
// with the same status, after a lost reply, succeeds.
func (r *Run) Complete(ctx context.Context, status Status) error {
	if status != Succeeded && status != Failed {
		return invalid("status", "must be %q or %q (got %q)", Succeeded, Failed, status)
	}
	return r.complete(ctx, status)
}

func (r *Run) complete(ctx context.Context, status Status) error {
	j := r.job
	reply, err := j.core.Script(ctx, completeScript, j.keys(r.Window),
		[]any{r.ID, string(status), j.opts.KeyGrace.Milliseconds(), j.channel}, nil)
	if err != nil {
		return fmt.Errorf("runs: complete %q run %q: %w", j.Name(), r.ID, err)
	}
	return r.ended(reply, "complete")
}

// ended reads the reply of renew.lua or complete.lua.
func (r *Run) ended(reply []any, op string) error {
	switch lockcore.Kind(reply) {
	case "ok":
		if len(reply) == 3 {
			return nil
		}
	case "stale":
		_, cur, err := r.job.refusal(r.job.keys(r.Window)[0], reply)
		if err != nil {
			return err
		}
		return &StaleError{Job: r.job.Name(), Window: r.Window, RunID: r.ID, Current: cur}
	case "foreign":
		return lockcore.ForeignReply(reply)
	}
	return fmt.Errorf("runs: %s: %w", op, lockcore.Unexpected(reply))
}

// abandon ends the attempt of a claim whose reply was lost as lost, on a
// fresh context bounded by the attempt timeout, so that a retry need not
// wait for its lease. If it fails too, the lease runs out.
func (r *Run) abandon() {
	ctx, cancel := context.WithTimeout(context.Background(), r.job.core.Opts().AttemptTimeout)
	defer cancel()
	_ = r.complete(ctx, Lost)
}
