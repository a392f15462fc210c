package runs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
	"github.com/baton-dev/baton/test/chaos"
)

// faulty returns a job on a client through a fault proxy, with a short
// attempt timeout, a job on a direct client, and the proxy. With
// deadlines, the proxied client puts each call's deadline on its socket,
// and calls run on the caller's goroutine; without, in a guard goroutine.
func faulty(t *testing.T, deadlines bool) (*runs.Job, *runs.Job, *chaos.Proxy) {
	t.Helper()
	srv := redistest.Start(t)
	direct := srv.Client()
	p, err := chaos.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: deadlines})
	t.Cleanup(func() { _ = c.Close() })
	opts := runs.Options{Identity: "proxied", Lease: redislock.Options{AttemptTimeout: 300 * time.Millisecond}}
	j := newJob(t, c, "report", opts)
	// Load the scripts, so that the armed EVALSHA is the call itself.
	r := claim(t, j, "warm-up", time.Minute)
	if err := r.Renew(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Fatal(err)
	}
	return j, newJob(t, direct, "report", runs.Options{Identity: "direct"}), p
}

// modes are the fault tests' cases: each fault, with calls guarded or run
// directly under socket deadlines.
var modes = []struct {
	fault     chaos.Fault
	deadlines bool
}{
	{chaos.Stall, false}, {chaos.Drop, false}, {chaos.Kill, false},
	{chaos.Stall, true}, {chaos.Drop, true}, {chaos.Kill, true},
}

func modeName(f chaos.Fault, deadlines bool) string {
	if deadlines {
		return f.String() + " direct"
	}
	return f.String() + " guarded"
}

// consistent checks what Redis holds for window w: at most one attempt
// running, attempts numbered 1..n, and the window's state the last one's.
func consistent(t *testing.T, j *runs.Job, w string) []runs.Record {
	t.Helper()
	var mine []runs.Record
	running := 0
	for _, r := range inspect(t, j).Recent {
		if r.Window == w {
			mine = append([]runs.Record{r}, mine...)
			if r.Status == runs.Running {
				running++
			}
		}
	}
	for i, r := range mine {
		if r.Attempt != i+1 || (r.Status == runs.Running && i != len(mine)-1) {
			t.Fatalf("window %s: attempts %+v", w, mine)
		}
	}
	if running > 1 {
		t.Fatalf("window %s: %d attempts running: %+v", w, running, mine)
	}
	return mine
}

// A claim whose request is stalled, dropped or killed on the way tells
// its caller an error (or, killed, succeeds through go-redis's resend),
// leaves Redis consistent, and a retry claims the window.
func TestClaimFaults(t *testing.T) {
	for _, m := range modes {
		f := m.fault
		t.Run(modeName(f, m.deadlines), func(t *testing.T) {
			j, direct, p := faulty(t, m.deadlines)
			fired := p.Arm("evalsha", f)
			r, err := j.Claim(t.Context(), "w", time.Minute, time.Time{})
			<-fired
			switch {
			case err == nil && f == chaos.Kill:
				// Resent on a new connection: the same attempt again.
				if r.Attempt != 1 {
					t.Fatalf("run = %+v", r)
				}
				if got := consistent(t, direct, "w"); len(got) != 1 || got[0].RunID != r.ID || got[0].Status != runs.Running {
					t.Fatalf("record %+v, run %+v", got, r)
				}
				return
			case err == nil:
				t.Fatalf("Claim under %v: %+v, want an error", f, r)
			case !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("Claim under %v: %v, want the attempt timeout", f, err)
			}
			t.Logf("Claim under %v: %v", f, err)
			// The attempt the lost reply leaves is ended as lost in the
			// background; a retry then takes attempt 2 at once, without
			// waiting for its minute of lease.
			var retry *runs.Run
			eventually(t, 10*time.Second, "retry", func() bool {
				retry, err = j.Claim(t.Context(), "w", time.Minute, time.Time{})
				if err != nil && !errors.Is(err, runs.ErrRunning) {
					t.Fatal(err)
				}
				return err == nil
			})
			got := consistent(t, direct, "w")
			want := 2
			if f == chaos.Drop {
				want = 1
			}
			if retry.Attempt != want || len(got) != want || got[want-1].RunID != retry.ID {
				t.Fatalf("retry %+v, record %+v", retry, got)
			}
			if want == 2 && (got[0].Status != runs.Lost || got[0].Identity != "proxied") {
				t.Errorf("the lost claim's attempt: %+v", got[0])
			}
		})
	}
}

// A renew or a complete whose request is stalled, dropped or killed tells
// its caller an error (or goes through on go-redis's resend), leaves Redis
// consistent, and a retry goes through: a complete repeated after a lost
// reply is recorded once.
func TestRenewCompleteFaults(t *testing.T) {
	for _, op := range []string{"renew", "complete"} {
		for _, m := range modes {
			f := m.fault
			t.Run(op+" "+modeName(f, m.deadlines), func(t *testing.T) {
				j, direct, p := faulty(t, m.deadlines)
				r := claim(t, j, "w", time.Minute)
				call := func() error {
					if op == "renew" {
						return r.Renew(t.Context())
					}
					return r.Complete(t.Context(), runs.Succeeded)
				}
				fired := p.Arm("evalsha", f)
				err := call()
				<-fired
				if (err == nil && f != chaos.Kill) || (err != nil && !errors.Is(err, context.DeadlineExceeded)) {
					t.Fatalf("%s under %v: %v, want the attempt timeout", op, f, err)
				}
				t.Logf("%s under %v: %v", op, f, err)
				got := consistent(t, direct, "w")
				if len(got) != 1 || got[0].RunID != r.ID {
					t.Fatalf("record %+v", got)
				}
				if err := call(); err != nil {
					t.Fatalf("%s again: %v", op, err)
				}
				got = consistent(t, direct, "w")
				want := runs.Running
				if op == "complete" {
					want = runs.Succeeded
					refused(t, direct, "w", runs.ErrSucceeded)
					if info := inspect(t, direct); info.LastSuccess == nil || info.LastSuccess.RunID != r.ID {
						t.Errorf("last success %+v", info.LastSuccess)
					}
				}
				if got[0].Status != want {
					t.Errorf("status %s, want %s", got[0].Status, want)
				}
			})
		}
	}
}
