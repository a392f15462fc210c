//go:build linux

package chaos

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
)

// recordPoll reads the job's record (runs.Job.Inspect) while the run goes
// on: the record keeps the last runs only (50, the sidecar's default
// runs.Options.Keep, which it does not expose), so the test gathers them
// as they come, and reads every window's current attempt at the end.
type recordPoll struct {
	job *runs.Job
	c   *redis.Client

	mu   sync.Mutex
	recs map[string]runs.Record
}

func newRecordPoll(job *runs.Job, c *redis.Client) *recordPoll {
	return &recordPoll{job: job, c: c, recs: map[string]runs.Record{}}
}

// loop reads the record every d until stop, which returns once it has.
// Reads fail while Redis is down; the record keeps the runs of more than
// ten seconds meanwhile.
func (p *recordPoll) loop(d time.Duration) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			_ = p.read(ctx)
			cancel()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-exited }
}

func (p *recordPoll) read(ctx context.Context) error {
	info, err := p.job.Inspect(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range info.Recent {
		p.recs[r.RunID] = r // later reads see later states
	}
	return nil
}

// final reads the record once more, and then the current attempt of
// every window from its own key, which outlives the record's trimming.
func (p *recordPoll) final(ctx context.Context) error {
	if err := p.read(ctx); err != nil {
		return err
	}
	now, err := p.job.Now(ctx)
	if err != nil {
		return err
	}
	match := keyOf(redislock.DefaultPrefix, lockName, "run:w:*")
	var keys []string
	for it := p.c.Scan(ctx, 0, match, 1000).Iterator(); it.Next(ctx); {
		keys = append(keys, it.Val())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		h, err := p.c.HGetAll(ctx, k).Result()
		if err != nil {
			return err
		}
		r, err := windowRecord(h, now)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		p.recs[r.RunID] = r
	}
	return nil
}

// windowRecord reads a window's hash (pkg/runs window.lua) as of now.
func windowRecord(h map[string]string, now time.Time) (runs.Record, error) {
	var n [6]int64
	for i, f := range []string{"attempt", "fence", "start_us", "end_us", "until_us", "lease_ms"} {
		v, err := strconv.ParseInt(h[f], 10, 64)
		if err != nil {
			return runs.Record{}, fmt.Errorf("field %s: %w", f, err)
		}
		n[i] = v
	}
	us := func(v int64) time.Time { return time.UnixMicro(v).UTC() }
	r := runs.Record{Window: h["window"], RunID: h["run_id"], Attempt: int(n[0]), Fence: uint64(n[1]), Identity: h["identity"],
		Status: runs.Status(h["status"]), Start: us(n[2]), LeaseEnd: us(n[4]), Lease: time.Duration(n[5]) * time.Millisecond}
	if n[3] != 0 {
		r.End = us(n[3])
	}
	if r.Status == runs.Running && !r.LeaseEnd.After(now) {
		r.Status, r.End = runs.Lost, r.LeaseEnd
	}
	return r, nil
}

// records returns every record read.
func (p *recordPoll) records() []runs.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]runs.Record, 0, len(p.recs))
	for _, r := range p.recs {
		out = append(out, r)
	}
	return out
}
