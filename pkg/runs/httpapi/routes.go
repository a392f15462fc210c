package runsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
)

// Runs serves the runs of pkg/runs on the API (see the package
// documentation), on Redis. It keeps no state of its own: a run is found
// by its run_id in Redis, so that any sidecar on the same Redis may renew
// or complete it. Pass it to pkg/api in Options.Routes.
type Runs struct {
	client redislock.Client
	opts   Options
	jobs   runs.Options
	log    *slog.Logger
}

// NewRedisRuns returns the runs on client. It validates the options
// (ErrInvalidOptions) but makes no Redis call.
func NewRedisRuns(client redislock.Client, o Options) (*Runs, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: NewRedisRuns needs a Redis client (got nil)", ErrInvalidOptions)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	jobs := runs.Options{
		Lease:    redislock.Options{Prefix: o.Prefix, AttemptTimeout: o.AttemptTimeout},
		Identity: o.Identity, MaxAttempts: o.MaxAttempts, Keep: o.Keep,
	}
	// One job built now checks the options with the library's own rules.
	if _, err := runs.New(client, "check", jobs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return &Runs{client: client, opts: o, jobs: jobs, log: o.Logger}, nil
}

// Register adds the routes of the runs to mux, for api.Options.Routes;
// guard wraps those that change state: every POST.
func (rs *Runs) Register(mux *http.ServeMux, guard func(http.HandlerFunc) http.Handler) {
	const base = "/runs/{job}"
	mux.Handle("POST "+base+"/claim", guard(rs.claim))
	mux.Handle("POST "+base+"/stream", guard(rs.stream))
	mux.Handle("POST "+base+"/renew", guard(rs.renew))
	mux.Handle("POST "+base+"/complete", guard(rs.complete))
	mux.HandleFunc("GET "+base, rs.inspect)
	mux.Handle(base, httpx.MethodNotAllowed(rs.log, "GET, HEAD"))
	for _, p := range []string{"/claim", "/stream", "/renew", "/complete"} {
		mux.Handle(base+p, httpx.MethodNotAllowed(rs.log, "POST"))
	}
}

// job is the job named name; the name was checked.
func (rs *Runs) job(name string) (*runs.Job, error) {
	return runs.New(rs.client, name, rs.jobs)
}

func (rs *Runs) record(op, result string) {
	if r := rs.opts.Recorder; r != nil {
		r.RunRequest(op, result)
	}
}

// ok answers 200 with body, and fence in X-Baton-Fence when there is one.
func (rs *Runs) ok(w http.ResponseWriter, op string, body any, fence uint64) {
	if fence > 0 {
		w.Header().Set("X-Baton-Fence", strconv.FormatUint(fence, 10))
	}
	httpx.WriteJSON(rs.log, w, http.StatusOK, body)
	rs.record(op, "ok")
}

// fail answers err and counts it; a Redis error is logged here, once.
func (rs *Runs) fail(w http.ResponseWriter, r *http.Request, op string, req request, err error) {
	if re, ok := errors.AsType[*httpx.RequestError](err); ok {
		httpx.WriteError(rs.log, w, r, re.Code, "%s", re.Msg)
		rs.record(op, "bad_request")
		return
	}
	conflict := func(body ConflictBody) {
		body.Error, body.Job = err.Error(), req.job
		rs.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", http.StatusConflict, "err", err)
		httpx.WriteJSON(rs.log, w, http.StatusConflict, body)
		rs.record(op, "conflict")
	}
	if ce, ok := errors.AsType[*runs.ClaimError](err); ok {
		conflict(ConflictBody{State: ce.State, Window: ce.Window, Last: recordBody(ce.Last), RemainingMS: max(ce.Remaining.Milliseconds(), 0)})
		return
	}
	if se, ok := errors.AsType[*runs.StaleError](err); ok {
		window := se.Window
		if window == "" && se.Current != nil {
			window = se.Current.Window
		}
		conflict(ConflictBody{State: "stale", Window: window, RunID: se.RunID, Last: recordBody(se.Current)})
		return
	}
	switch {
	case r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// The client went away (or the sidecar is shutting down): nobody
		// reads an answer.
		rs.log.Debug("run call abandoned", "op", op, "job", req.job, "remote", r.RemoteAddr)
		rs.record(op, "canceled")
	case errors.Is(err, runs.ErrForeign):
		rs.log.Warn("run key holds a value baton did not write", "job", req.job, "err", err)
		conflict(ConflictBody{State: "foreign", Window: req.window, RunID: req.runID})
	case errors.Is(err, runs.ErrInvalid):
		httpx.WriteError(rs.log, w, r, http.StatusBadRequest, "%v", err)
		rs.record(op, "bad_request")
	default:
		rs.log.Error("run call failed", "op", op, "job", req.job, "err", err)
		httpx.WriteError(rs.log, w, r, http.StatusServiceUnavailable, "redis: %v", err)
		rs.record(op, "error")
	}
}

// claim serves POST /runs/{job}/claim?window=&lease=&closes=.
func (rs *Runs) claim(w http.ResponseWriter, r *http.Request) {
	const op = "claim"
	req, err := rs.claimRequest(r, false)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	job, err := rs.job(req.job)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	run, err := job.Claim(r.Context(), req.window, req.lease, req.closes)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	if r.Context().Err() != nil {
		// The client went away as the window was claimed: nobody knows
		// the run_id, so nobody would complete it.
		rs.failRun(r, req.job, run, "client went away")
		rs.record(op, "canceled")
		return
	}
	rs.log.Debug("run claimed", "job", req.job, "window", req.window, "attempt", run.Attempt, "fence", run.Fence, "remote", r.RemoteAddr)
	rs.ok(w, op, runBody(req.job, run), run.Fence)
}

// resume finds the run of req's run_id in Redis.
func (rs *Runs) resume(r *http.Request, req request) (*runs.Run, error) {
	job, err := rs.job(req.job)
	if err != nil {
		return nil, err
	}
	return job.Resume(r.Context(), req.runID)
}

// renew serves POST /runs/{job}/renew?run_id=.
func (rs *Runs) renew(w http.ResponseWriter, r *http.Request) {
	const op = "renew"
	req, err := runRequest(r, false)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	run, err := rs.resume(r, req)
	if err == nil {
		err = run.Renew(r.Context())
	}
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	rs.ok(w, op, runBody(req.job, run), run.Fence)
}

// complete serves POST /runs/{job}/complete?run_id=&status=ok|failed. A
// complete resent after a lost answer, with the same status, answers 200.
func (rs *Runs) complete(w http.ResponseWriter, r *http.Request) {
	const op = "complete"
	req, err := runRequest(r, true)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	run, err := rs.resume(r, req)
	if err == nil {
		err = run.Complete(r.Context(), req.status)
	}
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	rs.log.Debug("run completed", "job", req.job, "window", run.Window, "attempt", run.Attempt, "status", req.status)
	rs.ok(w, op, CompleteBody{Job: req.job, Window: run.Window, RunID: run.ID, Attempt: run.Attempt, Fence: run.Fence, Status: string(req.status)}, run.Fence)
}

// inspect serves GET /runs/{job}.
func (rs *Runs) inspect(w http.ResponseWriter, r *http.Request) {
	const op = "inspect"
	req, _, err := query(r)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	job, err := rs.job(req.job)
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	info, err := job.Inspect(r.Context())
	if err != nil {
		rs.fail(w, r, op, req, err)
		return
	}
	rs.ok(w, op, InfoBody{
		Job: req.job, Now: stamp(info.Now),
		LastSuccess: recordBody(info.LastSuccess), LastFailure: recordBody(info.LastFailure),
		Running: recordBodies(info.Running), Recent: recordBodies(info.Recent),
	}, 0)
}

// attemptTimeout bounds a call no client waits for.
func (rs *Runs) attemptTimeout() time.Duration {
	if rs.opts.AttemptTimeout > 0 {
		return rs.opts.AttemptTimeout
	}
	return redislock.DefaultAttemptTimeout
}
