package runs_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/runs"
)

// Claim, renew and complete: the run gets attempt 1 and a fence above
// Redis time in microseconds, and the record says who ran it and when.
func TestClaimRenewComplete(t *testing.T) {
	c := server(t)
	j := newJob(t, c, "report", runs.Options{Identity: "a"})
	before, err := j.Now(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := claim(t, j, "2026-12-07", time.Minute)
	if r.Window != "2026-12-07" || r.Attempt != 1 || len(r.ID) != 32 || r.Lease != time.Minute {
		t.Fatalf("run = %+v", r)
	}
	if r.Fence < uint64(before.UnixMicro()) || r.Start.Before(before) {
		t.Errorf("fence %d, start %v: want at least Redis time %v", r.Fence, r.Start, before)
	}
	info := inspect(t, j)
	if len(info.Running) != 1 || info.Running[0].RunID != r.ID || info.Running[0].Status != runs.Running {
		t.Fatalf("running = %+v", info.Running)
	}
	if got := info.Running[0].LeaseEnd.Sub(r.Start); got != time.Minute {
		t.Errorf("lease end - start = %v, want 1m", got)
	}
	if err := r.Renew(t.Context()); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	info = inspect(t, j)
	s := info.LastSuccess
	if s == nil || s.RunID != r.ID || s.Identity != "a" || s.Fence != r.Fence || s.Attempt != 1 || s.Status != runs.Succeeded {
		t.Fatalf("last success = %+v", s)
	}
	if s.End.Before(s.Start) || s.End.After(info.Now) || !s.Start.Equal(r.Start) {
		t.Errorf("start %v end %v now %v", s.Start, s.End, info.Now)
	}
	if info.LastFailure != nil || len(info.Running) != 0 || len(info.Recent) != 1 || info.Recent[0] != *s {
		t.Errorf("info = %+v", info)
	}
	// Completing again after a lost reply is fine; another status is not.
	if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Errorf("Complete again: %v", err)
	}
	stale(t, "Complete(failed) after success", r.Complete(t.Context(), runs.Failed))
	stale(t, "Renew after success", r.Renew(t.Context()))
}

// A second claimer learns who runs the window, with which fence, and for
// how long its lease holds.
func TestClaimWhileRunning(t *testing.T) {
	c := server(t)
	a := newJob(t, c, "report", runs.Options{Identity: "a"})
	b := newJob(t, c, "report", runs.Options{Identity: "b"})
	r := claim(t, a, "w1", 10*time.Second)
	e := refused(t, b, "w1", runs.ErrRunning)
	if e.State != "running" || e.Last == nil || e.Last.Identity != "a" || e.Last.Fence != r.Fence || e.Last.RunID != r.ID {
		t.Fatalf("refusal = %+v, last %+v", e, e.Last)
	}
	if e.Remaining <= 9*time.Second || e.Remaining > 10*time.Second {
		t.Errorf("remaining = %v, want just under 10s", e.Remaining)
	}
	if errors.Is(e, runs.ErrSucceeded) || errors.Is(e, runs.ErrExhausted) {
		t.Errorf("%v matches another state", e)
	}
	// Another window of the job is free.
	claim(t, b, "w2", time.Second)
}

// After a lease runs out in Redis time, a retry gets the next attempt and
// a higher fence; the old run may then neither renew nor complete, and
// its refusals write nothing.
func TestRetryAfterLostLease(t *testing.T) {
	c := server(t)
	a := newJob(t, c, "report", runs.Options{Identity: "a"})
	b := newJob(t, c, "report", runs.Options{Identity: "b"})
	old := claim(t, a, "w", 50*time.Millisecond)
	refused(t, b, "w", runs.ErrRunning)
	var retry *runs.Run
	eventually(t, 5*time.Second, "retry", func() bool {
		r, err := b.Claim(t.Context(), "w", time.Minute, time.Time{})
		if err != nil && !errors.Is(err, runs.ErrRunning) {
			t.Fatal(err)
		}
		retry = r
		return err == nil
	})
	if retry.Attempt != 2 || retry.Fence <= old.Fence {
		t.Fatalf("retry = %+v after %+v", retry, old)
	}
	before := dump(t, c, "*")
	se := stale(t, "old Complete", old.Complete(t.Context(), runs.Succeeded))
	if se.Current == nil || se.Current.RunID != retry.ID || se.Current.Identity != "b" {
		t.Errorf("stale error = %v, current %+v", se, se.Current)
	}
	stale(t, "old Renew", old.Renew(t.Context()))
	if after := dump(t, c, "*"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused call wrote:\nbefore %v\nafter  %v", before, after)
	}
	info := inspect(t, a)
	if len(info.Recent) != 2 || info.Recent[1].Status != runs.Lost || info.Recent[1].RunID != old.ID {
		t.Fatalf("recent = %+v", info.Recent)
	}
	lost := info.Recent[1]
	if !lost.End.Equal(lost.LeaseEnd) || lost.End.Sub(lost.Start) != 50*time.Millisecond {
		t.Errorf("lost attempt ends %v, lease end %v, start %v", lost.End, lost.LeaseEnd, lost.Start)
	}
	if info.LastFailure == nil || info.LastFailure.RunID != old.ID {
		t.Errorf("last failure = %+v", info.LastFailure)
	}
	if err := retry.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Fatal(err)
	}
}

// A run whose lease ran out, and nobody retried yet, is stale too, and
// Inspect shows it lost.
func TestExpiredRunIsStale(t *testing.T) {
	c := server(t)
	j := newJob(t, c, "report", runs.Options{})
	r := claim(t, j, "w", 20*time.Millisecond)
	eventually(t, 5*time.Second, "lease end", func() bool { return len(inspect(t, j).Running) == 0 })
	before := dump(t, c, "*")
	se := stale(t, "Complete", r.Complete(t.Context(), runs.Succeeded))
	if se.Current == nil || se.Current.Status != runs.Lost || se.Current.RunID != r.ID {
		t.Errorf("current = %+v", se.Current)
	}
	stale(t, "Renew", r.Renew(t.Context()))
	if after := dump(t, c, "*"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused call wrote:\nbefore %v\nafter  %v", before, after)
	}
	info := inspect(t, j)
	if info.LastFailure == nil || info.LastFailure.Status != runs.Lost || info.Recent[0].Status != runs.Lost {
		t.Errorf("info = %+v", info)
	}
}

// Success is final: every later claim, whoever makes it, learns who
// succeeded, when, and with which fence.
func TestSuccessIsFinal(t *testing.T) {
	c := server(t)
	a := newJob(t, c, "report", runs.Options{Identity: "a"})
	b := newJob(t, c, "report", runs.Options{Identity: "b", MaxAttempts: 100})
	r := claim(t, a, "w", time.Second)
	if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e := refused(t, b, "w", runs.ErrSucceeded)
		if e.Last == nil || e.Last.Identity != "a" || e.Last.Fence != r.Fence || e.Last.End.IsZero() || e.Last.Status != runs.Succeeded {
			t.Fatalf("refusal %v, last %+v", e, e.Last)
		}
	}
	// Even with a close in the past, the answer is the success.
	_, err := b.Claim(t.Context(), "w", time.Second, time.Unix(1, 0))
	if !errors.Is(err, runs.ErrSucceeded) {
		t.Errorf("closed claim of a succeeded window: %v", err)
	}
}

// Failed and lost attempts count; after MaxAttempts the window is
// exhausted for everyone.
func TestMaxAttempts(t *testing.T) {
	c := server(t)
	j := newJob(t, c, "report", runs.Options{MaxAttempts: 2})
	r1 := claim(t, j, "w", time.Second)
	if err := r1.Complete(t.Context(), runs.Failed); err != nil {
		t.Fatal(err)
	}
	r2 := claim(t, j, "w", 20*time.Millisecond) // retried at once after a failure
	if r2.Attempt != 2 {
		t.Fatalf("attempt = %d", r2.Attempt)
	}
	eventually(t, 5*time.Second, "lease end", func() bool { return len(inspect(t, j).Running) == 0 })
	e := refused(t, j, "w", runs.ErrExhausted)
	if e.Last == nil || e.Last.RunID != r2.ID || e.Last.Status != runs.Lost || e.Last.Attempt != 2 {
		t.Errorf("last = %+v", e.Last)
	}
	// A job with more attempts may go on.
	more := newJob(t, c, "report", runs.Options{MaxAttempts: 3})
	if r := claim(t, more, "w", time.Second); r.Attempt != 3 {
		t.Errorf("attempt = %d", r.Attempt)
	}
}

// A window whose close has passed in Redis time is not started.
func TestClosed(t *testing.T) {
	c := server(t)
	j := newJob(t, c, "report", runs.Options{})
	now, err := j.Now(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = j.Claim(t.Context(), "w", time.Second, now.Add(-time.Millisecond))
	var ce *runs.ClaimError
	if !errors.As(err, &ce) || !errors.Is(err, runs.ErrClosed) || ce.Last != nil {
		t.Fatalf("Claim after the close: %v", err)
	}
	if keys := dump(t, c, "*"); len(keys) != 0 {
		t.Errorf("a refused claim wrote %v", keys)
	}
	r, err := j.Claim(t.Context(), "w", time.Second, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The window's key lives at least until an hour from now.
	if ttl := c.PTTL(t.Context(), "baton:{report}:run:w:w").Val(); ttl < time.Hour {
		t.Errorf("window key TTL %v, want past the close", ttl)
	}
	_ = r.Complete(t.Context(), runs.Failed)
	_, err = j.Claim(t.Context(), "w", time.Second, now.Add(-time.Second))
	if !errors.As(err, &ce) || !errors.Is(err, runs.ErrClosed) || ce.Last == nil || ce.Last.RunID != r.ID {
		t.Fatalf("Claim of a failed window after its close: %v", err)
	}
}

// A replica that does not run a window costs Redis one script call per
// claim, which writes nothing: O(1), however many replicas there are.
func TestRefusedClaimCost(t *testing.T) {
	c := server(t)
	j := newJob(t, c, "report", runs.Options{})
	r := claim(t, j, "w", time.Minute)
	refused(t, j, "w", runs.ErrRunning) // loads nothing new: the script is cached
	for _, want := range []error{runs.ErrRunning, runs.ErrSucceeded} {
		if want == runs.ErrSucceeded {
			if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
				t.Fatal(err)
			}
		}
		before, err := redistest.CommandCalls(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		const replicas = 10
		for range replicas {
			refused(t, j, "w", want)
		}
		after, err := redistest.CommandCalls(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		writes := []string{"hset", "set", "lpush", "pexpire", "publish", "hdel", "rpop"}
		if got := after["evalsha"] - before["evalsha"]; got != replicas {
			t.Errorf("%v: %d EVALSHA for %d refusals", want, got, replicas)
		}
		for _, w := range writes {
			if n := after[w] - before[w]; n != 0 {
				t.Errorf("%v: %d %s in refusals", want, n, w)
			}
		}
	}
}
