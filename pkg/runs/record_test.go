package runs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
)

// The record keeps the last Keep runs, newest first, and no more: the
// list and the records hash stay bounded, and a trimmed run still renews
// and completes by its window.
func TestRecordsBoundedByKeep(t *testing.T) {
	c := server(t)
	j := newJob(t, c, "report", runs.Options{Keep: runs.MinKeep})
	first := claim(t, j, "w-first", time.Minute)
	var last *runs.Run
	for i := range 2 * runs.MinKeep {
		last = claim(t, j, fmt.Sprintf("w%02d", i), time.Minute)
		if err := last.Complete(t.Context(), runs.Succeeded); err != nil {
			t.Fatal(err)
		}
	}
	// The first run still runs: its record stays beyond Keep, so that the
	// API finds it by its id (to renew or complete it).
	info := inspect(t, j)
	if len(info.Recent) != runs.MinKeep+1 || info.Recent[0].RunID != last.ID || info.Recent[runs.MinKeep].RunID != first.ID ||
		info.Recent[runs.MinKeep-1].Window != fmt.Sprintf("w%02d", runs.MinKeep) {
		t.Fatalf("recent: %d runs, first %+v, last %+v", len(info.Recent), info.Recent[0], info.Recent[len(info.Recent)-1])
	}
	if len(info.Running) != 1 || info.Running[0].RunID != first.ID {
		t.Errorf("running %+v, want the first run", info.Running)
	}
	if r, err := j.Resume(t.Context(), first.ID); err != nil || r.Window != "w-first" {
		t.Errorf("the first run by its id: %+v, %v", r, err)
	}
	if err := first.Renew(t.Context()); err != nil {
		t.Errorf("Renew of a run beyond Keep: %v", err)
	}
	if err := first.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Errorf("Complete of a run beyond Keep: %v", err)
	}
	// Ended, it is trimmed at the next claim.
	claim(t, j, "w-next", time.Minute)
	if n := c.HLen(t.Context(), "baton:{report}:run:records").Val(); n != runs.MinKeep {
		t.Errorf("records hash holds %d runs", n)
	}
	if n := c.LLen(t.Context(), "baton:{report}:run:order").Val(); n != runs.MinKeep {
		t.Errorf("order list holds %d runs", n)
	}
	// A job with a smaller Keep trims what a larger one left.
	big := newJob(t, c, "big", runs.Options{Keep: 30})
	for i := range 30 {
		if err := claim(t, big, fmt.Sprint(i), time.Minute).Complete(t.Context(), runs.Failed); err != nil {
			t.Fatal(err)
		}
	}
	small := newJob(t, c, "big", runs.Options{Keep: 20})
	claim(t, small, "x", time.Minute)
	if n := len(inspect(t, small).Recent); n != 20 {
		t.Errorf("recent = %d after Keep went down", n)
	}
}

// Every key of a job expires KeyGrace after the last write, and no
// earlier than a lease's end.
func TestKeysExpire(t *testing.T) {
	c := server(t)
	const grace = 300 * time.Millisecond
	j := newJob(t, c, "report", runs.Options{KeyGrace: grace})
	r := claim(t, j, "w", 2*time.Second)
	keys := []string{"baton:{report}:run:w:w", "baton:{report}:run:fence", "baton:{report}:run:records", "baton:{report}:run:order"}
	for _, k := range keys {
		if ttl := c.PTTL(t.Context(), k).Val(); ttl <= 2*time.Second || ttl > 2*time.Second+grace {
			t.Errorf("%s: TTL %v, want the lease and the grace", k, ttl)
		}
	}
	if err := r.Complete(t.Context(), runs.Failed); err != nil {
		t.Fatal(err)
	}
	// The TTLs are never lowered, so they still cover the lease.
	if ttl := c.PTTL(t.Context(), "baton:{report}:run:last").Val(); ttl <= 0 || ttl > grace {
		t.Errorf("last: TTL %v", ttl)
	}
	eventually(t, 10*time.Second, "keys gone", func() bool {
		n, err := c.Exists(context.Background(), append(keys, "baton:{report}:run:last")...).Result()
		return err == nil && n == 0
	})

	// The hash of a window that closes lives an hour at most after its
	// close, the job's keys the whole grace: claimed after its close, a
	// window is refused whether its hash is there or not.
	week := newJob(t, c, "weekly", runs.Options{KeyGrace: 7 * 24 * time.Hour})
	now, err := week.Now(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	closes := now.Add(2 * time.Second)
	if _, err := week.Claim(t.Context(), "w", time.Second, closes); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(t.Context(), "baton:{weekly}:run:w:w").Val(); ttl <= time.Hour || ttl > time.Hour+2*time.Second {
		t.Errorf("window hash: TTL %v, want an hour after its close", ttl)
	}
	if ttl := c.PTTL(t.Context(), "baton:{weekly}:run:records").Val(); ttl <= 7*24*time.Hour {
		t.Errorf("records: TTL %v, want the grace", ttl)
	}
	c.Del(t.Context(), "baton:{weekly}:run:w:w")
	var ce *runs.ClaimError
	_, err = week.Claim(t.Context(), "w", time.Second, now.Add(-time.Second))
	if !errors.As(err, &ce) || !errors.Is(err, runs.ErrClosed) {
		t.Errorf("a closed window without its hash: %v, want ErrClosed", err)
	}
}

// A value at a job's key that baton did not write is reported and left
// as it is, and nothing else is written.
func TestForeignValues(t *testing.T) {
	for _, tc := range []struct {
		name, key string
	}{
		{"string at the window", "baton:{report}:run:w:w"},
		{"hash without baton fields at the window", "baton:{report}:run:w:w"},
		{"window hash with a bad status", "baton:{report}:run:w:w"},
		{"list at the fence", "baton:{report}:run:fence"},
		{"non-fence at the fence", "baton:{report}:run:fence"},
		{"string at the records", "baton:{report}:run:records"},
		{"hash at the order", "baton:{report}:run:order"},
		{"list at the last runs", "baton:{report}:run:last"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := server(t)
			ctx := t.Context()
			var err error
			switch tc.name {
			case "string at the window", "string at the records", "non-fence at the fence":
				err = c.Set(ctx, tc.key, "mine", 0).Err()
			case "hash without baton fields at the window", "hash at the order":
				err = c.HSet(ctx, tc.key, "mine", "1").Err()
			case "window hash with a bad status":
				err = c.HSet(ctx, tc.key, "window", "w", "run_id", "x", "attempt", "1", "fence", "1", "identity", "i",
					"start_us", "1", "end_us", "0", "until_us", "1", "status", "odd", "lease_ms", "1", "closes_us", "0").Err()
			default:
				err = c.RPush(ctx, tc.key, "mine").Err()
			}
			if err != nil {
				t.Fatal(err)
			}
			before := dump(t, c, "*")
			j := newJob(t, c, "report", runs.Options{})
			_, err = j.Claim(ctx, "w", time.Second, time.Time{})
			var fe *redislock.ForeignError
			if !errors.Is(err, runs.ErrForeign) || !errors.As(err, &fe) || fe.Key != tc.key {
				t.Fatalf("Claim: %v, want foreign at %s", err, tc.key)
			}
			if after := dump(t, c, "*"); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("wrote:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// A foreign value that appears while a run holds its window stops its
// Renew and Complete, which write nothing.
func TestForeignUnderRun(t *testing.T) {
	for _, key := range []string{"baton:{report}:run:records", "baton:{report}:run:w:w"} {
		t.Run(key, func(t *testing.T) {
			c := server(t)
			j := newJob(t, c, "report", runs.Options{})
			r := claim(t, j, "w", time.Minute)
			if err := c.Set(t.Context(), key, "mine", 0).Err(); err != nil {
				t.Fatal(err)
			}
			before := dump(t, c, "*")
			for what, err := range map[string]error{
				"Renew": r.Renew(t.Context()), "Complete": r.Complete(t.Context(), runs.Succeeded),
			} {
				if !errors.Is(err, runs.ErrForeign) {
					t.Errorf("%s: %v, want ErrForeign", what, err)
				}
			}
			if after := dump(t, c, "*"); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("wrote:\nbefore %v\nafter  %v", before, after)
			}
			if key == "baton:{report}:run:records" {
				if _, err := j.Inspect(t.Context()); !errors.Is(err, runs.ErrForeign) {
					t.Errorf("Inspect: %v", err)
				}
			}
		})
	}
}

// Resume finds a recorded run by its id, for a process that has only the
// id; an unknown id is stale.
func TestResume(t *testing.T) {
	c := server(t)
	a := newJob(t, c, "report", runs.Options{})
	b := newJob(t, c, "report", runs.Options{})
	r := claim(t, a, "w", time.Minute)
	got, err := b.Resume(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Window != r.Window || got.ID != r.ID || got.Attempt != r.Attempt || got.Fence != r.Fence || got.Lease != r.Lease || !got.Start.Equal(r.Start) {
		t.Fatalf("resumed %+v, claimed %+v", got, r)
	}
	if err := got.Renew(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := got.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Fatal(err)
	}
	if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Errorf("Complete by the claimer after the resumed one: %v", err)
	}
	_, err = b.Resume(t.Context(), "0123456789abcdef0123456789abcdef")
	stale(t, "Resume of an unknown id", err)
}

// Watch wakes at a claim and at a completion.
func TestWatch(t *testing.T) {
	c := server(t)
	j := newJob(t, c, "report", runs.Options{})
	w, err := j.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	waitWake := func(what string) {
		t.Helper()
		start := time.Now()
		if err := w.Wait(t.Context(), 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 4*time.Second {
			t.Fatalf("no wake-up at the %s", what)
		}
	}
	r := claim(t, j, "w", time.Minute)
	waitWake("claim")
	if err := r.Complete(t.Context(), runs.Failed); err != nil {
		t.Fatal(err)
	}
	waitWake("completion")
}

// A user the ACL denies PUBLISH still claims and completes: the
// announcement is best effort, and never fails a write half-way.
func TestPublishDenied(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client()
	if err := admin.Do(t.Context(), "ACL", "SETUSER", "runner", "on", ">pw", "~*", "&*", "+@all", "-publish").Err(); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "runner", Password: "pw"})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Publish(t.Context(), "x", "y").Err(); err == nil {
		t.Fatal("PUBLISH allowed")
	}
	j := newJob(t, c, "report", runs.Options{})
	r := claim(t, j, "w", time.Minute)
	if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Fatal(err)
	}
	refused(t, j, "w", runs.ErrSucceeded)
}

// When Redis loses a job's keys (a restart without persistence), the
// record is gone and the window runs again, but fences still grow: they
// start from Redis time.
func TestRedisRestartFencesGrow(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	j := newJob(t, c, "report", runs.Options{})
	var last uint64
	for range 3 { // counter+1 within a microsecond or two
		r := claim(t, j, fmt.Sprint("w", last), time.Minute)
		if r.Fence <= last {
			t.Fatalf("fence %d after %d", r.Fence, last)
		}
		last = r.Fence
	}
	srv.Restart()
	var r *runs.Run
	eventually(t, 10*time.Second, "claim after the restart", func() bool {
		var err error
		r, err = j.Claim(t.Context(), "w0", time.Minute, time.Time{})
		return err == nil
	})
	if r.Attempt != 1 || r.Fence <= last {
		t.Errorf("after the restart: %+v, last fence before %d", r, last)
	}
}

// Identities travel through the records as they are, quotes, slashes and
// UTF-8 included; a record baton did not write is reported by Inspect.
func TestRecordEncoding(t *testing.T) {
	c := server(t)
	const who = `pod "a"/b\c é ✓`
	j := newJob(t, c, "report", runs.Options{Identity: who})
	r := claim(t, j, "w", time.Minute)
	if err := r.Complete(t.Context(), runs.Failed); err != nil {
		t.Fatal(err)
	}
	info := inspect(t, j)
	if info.LastFailure == nil || info.LastFailure.Identity != who || info.Recent[0].Identity != who {
		t.Fatalf("info = %+v", info)
	}
	e := refused(t, newJob(t, c, "report", runs.Options{MaxAttempts: 1}), "w", runs.ErrExhausted)
	if e.Last.Identity != who || e.Last.Status != runs.Failed {
		t.Errorf("last = %+v", e.Last)
	}
	for _, bad := range []string{"not json", `{"window":"w"}`, `{"attempt":"1","fence":"1","start_us":"1","end_us":"0","until_us":"1","lease_ms":"1","status":"odd"}`} {
		if err := c.HSet(t.Context(), "baton:{report}:run:records", r.ID, bad).Err(); err != nil {
			t.Fatal(err)
		}
		var fe *redislock.ForeignError
		if _, err := j.Inspect(t.Context()); !errors.As(err, &fe) || fe.Key != "baton:{report}:run:records" {
			t.Errorf("Inspect with record %s: %v", bad, err)
		}
	}
}
