package runsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/runs"
)

// RunEvent is one line of a stream (application/x-ndjson): "claimed"
// first, with the run's fields, then "keepalive" every few seconds, and
// at the end "completed" (a complete call recorded Status) or "lost" (the
// watchdog could not keep the lease, the run is stale, or the sidecar is
// shutting down: Error says why); the stream ends after either.
type RunEvent struct {
	Event   string `json:"event"`
	Job     string `json:"job,omitempty"`
	Window  string `json:"window,omitempty"`
	RunID   string `json:"run_id,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Fence   uint64 `json:"fence,omitempty"`
	LeaseMS int64  `json:"lease_ms,omitempty"`
	Status  string `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
}

// stream serves POST /runs/{job}/stream?window=&lease=&closes=: the claim
// is held for the life of the response, renewed by a watchdog every third
// of the lease. A refusal answers as a claim's. The client ends the run
// with a complete call with the run_id, then closes the stream; a stream
// closed without one, by the client or its death, fails the attempt.
func (rs *Runs) stream(w http.ResponseWriter, r *http.Request) {
	const op = "stream"
	req, err := rs.claimRequest(r, true)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	job, err := rs.job(req.job)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	sent := time.Now()
	run, err := job.Claim(r.Context(), req.window, req.lease, req.closes)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	// However the stream ends, an attempt not completed fails with it; a
	// completed one is stale, and nothing is written.
	completed := false
	defer func() {
		if !completed {
			rs.failRun(r, req.job, run, "stream closed without complete")
		}
	}()
	hdr := w.Header()
	hdr.Set("Content-Type", "application/x-ndjson")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Baton-Fence", strconv.FormatUint(run.Fence, 10))
	rc := http.NewResponseController(w)
	deadline := rs.opts.Keepalive + httpx.WriteGrace
	httpx.ExtendWriteDeadline(rc, deadline)
	w.WriteHeader(http.StatusOK)
	send := func(ev RunEvent) bool {
		data, err := json.Marshal(ev)
		if err != nil {
			rs.log.Error("encode run event", "err", err)
			return false
		}
		httpx.ExtendWriteDeadline(rc, deadline)
		if _, err := w.Write(append(data, '\n')); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	b := runBody(req.job, run)
	if !send(RunEvent{Event: "claimed", Job: b.Job, Window: b.Window, RunID: b.RunID, Attempt: b.Attempt, Fence: b.Fence, LeaseMS: b.LeaseMS}) {
		rs.record(op, "canceled")
		return
	}
	rs.record(op, "ok")
	rs.log.Debug("stream run claimed", "job", req.job, "window", req.window, "attempt", run.Attempt, "fence", run.Fence, "remote", r.RemoteAddr)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ended := rs.watchdog(ctx, run, sent)
	keepalive := time.NewTicker(rs.opts.Keepalive)
	defer keepalive.Stop()
	for {
		select {
		case <-keepalive.C:
			if !send(RunEvent{Event: "keepalive"}) {
				return
			}
		case err := <-ended:
			if se, ok := errors.AsType[*runs.StaleError](err); ok && se.Current != nil && se.Current.RunID == run.ID &&
				(se.Current.Status == runs.Succeeded || se.Current.Status == runs.Failed) {
				completed = true
				send(RunEvent{Event: "completed", RunID: run.ID, Status: string(se.Current.Status)})
				return
			}
			rs.log.Warn("stream run lost", "job", req.job, "window", req.window, "fence", run.Fence, "err", err)
			send(RunEvent{Event: "lost", RunID: run.ID, Error: err.Error()})
			return
		case <-r.Context().Done():
			// The client closed the stream, or the sidecar is shutting
			// down: a client still there is told before the attempt fails.
			rs.log.Debug("stream ended", "job", req.job, "window", req.window, "remote", r.RemoteAddr)
			send(RunEvent{Event: "lost", RunID: run.ID, Error: "stream ended without complete: the attempt fails"})
			return
		}
	}
}

// watchdog renews run every third of its lease, from sent, the local time
// before its claim, until ctx ends. It delivers the error that ends it: a
// *runs.StaleError (the run completed, or lost its window), or no renew
// succeeding for two thirds of the lease, when the lease may still hold in
// Redis for a third of it at most.
func (rs *Runs) watchdog(ctx context.Context, run *runs.Run, sent time.Time) <-chan error {
	out := make(chan error, 1)
	go func() {
		last, limit := sent, run.Lease*2/3
		t := time.NewTicker(run.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			rctx, cancel := context.WithDeadline(ctx, last.Add(limit))
			err := run.Renew(rctx)
			cancel()
			switch {
			case err == nil:
				last = now
				continue
			case ctx.Err() != nil:
				return
			case errors.Is(err, runs.ErrStale):
				out <- err
				return
			}
			if time.Since(last) >= limit {
				out <- fmt.Errorf("runs: no renew succeeded for %v: %w", limit, err)
				return
			}
		}
	}()
	return out
}

// failRun fails run, whose client is gone, on a context of its own: a
// retry may start at once instead of after the lease. A run already
// completed is stale, and nothing is written.
func (rs *Runs) failRun(r *http.Request, job string, run *runs.Run, why string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), rs.attemptTimeout())
	defer cancel()
	if err := run.Complete(ctx, runs.Failed); err != nil && !errors.Is(err, runs.ErrStale) {
		rs.log.Warn("failing a run", "job", job, "window", run.Window, "why", why, "err", err)
	}
}
