package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/locks"
)

// Locks serves the application's locks and semaphores on the API (see the
// package documentation), and remembers what it holds, for renew, release
// and ReleaseAll. Pass it to NewHandler in Options.Locks.
type Locks struct {
	backend LockBackend
	opts    LocksOptions
	reg     *registry
	log     *slog.Logger
	// closing ends when ReleaseAll begins: it stops releaseLater.
	closing     context.Context
	stopClosing context.CancelFunc
}

// NewLocks returns the lock service on backend. It rejects a nil backend
// and invalid options (ErrInvalidOptions).
func NewLocks(backend LockBackend, o LocksOptions) (*Locks, error) {
	if backend == nil {
		return nil, fmt.Errorf("%w: NewLocks needs a LockBackend (got nil)", ErrInvalidOptions)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	closing, stop := context.WithCancel(context.Background())
	return &Locks{backend: backend, opts: o, reg: newRegistry(o.MaxHeld, o.Now), log: o.Logger, closing: closing, stopClosing: stop}, nil
}

// Held returns the number of locks and permits held through l now.
func (l *Locks) Held() int {
	n, _ := l.reg.counts()
	return n
}

// ReleaseAll refuses every later acquire (503), releases every lock and
// permit still held, in parallel and within ctx, and ends their streams
// with a lost event. It returns how many it released, and the errors of
// those it could not. A holding already lost is not counted nor an error.
func (l *Locks) ReleaseAll(ctx context.Context) (int, error) {
	entries := l.reg.close()
	l.stopClosing()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		released int
		errs     []error
	)
	for _, e := range entries {
		wg.Go(func() {
			const reason = "released: the sidecar is shutting down"
			tell(ctx, e, reason)
			err := l.end(ctx, e, reason)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				released++
			case !notOwner(err):
				errs = append(errs, fmt.Errorf("httpapi: release %s %q: %w", e.res.Kind, e.res.Name, err))
			}
		})
	}
	wg.Wait()
	l.recordHeld()
	return released, errors.Join(errs...)
}

// end releases e unless an operation ended it before, records how it
// ended and ends its stream, if any, with reason. A release that failed
// for another reason than lost ownership leaves e as it was.
func (l *Locks) end(ctx context.Context, e *heldEntry, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return nil
	}
	err := e.h.Release(ctx)
	if err != nil && !notOwner(err) {
		return err
	}
	if err != nil {
		reason = err.Error()
	}
	l.finish(e, err == nil, reason)
	return err
}

// tell ends e's stream, if any, with a lost event saying reason, before
// its lease is released: a release runs in Redis, where another client can
// be granted the name at once, before its reply comes back. It returns once
// the stream has ended, or e has (a stream that never started), or ctx has.
func tell(ctx context.Context, e *heldEntry, reason string) {
	if !e.stream {
		return
	}
	e.stopOnce.Do(func() {
		e.stopReason = reason
		close(e.stop)
	})
	select {
	case <-e.told:
	case <-e.ended:
	case <-ctx.Done():
	}
}

// finish ends e, whose mu the caller holds: released by this sidecar, or
// lost. It ends e's stream, if any, with reason, and frees e's place
// within MaxHeld.
func (l *Locks) finish(e *heldEntry, released bool, reason string) {
	e.done, e.reason = true, reason
	close(e.ended)
	l.reg.remove(e, released)
	l.recordHeld()
}

// notOwner reports whether err says the caller no longer owns the lease.
func notOwner(err error) bool {
	return errors.Is(err, locks.ErrNotHeld) || errors.Is(err, locks.ErrLost)
}

func (l *Locks) recordHeld() {
	if l.opts.Recorder != nil {
		l.opts.Recorder.LocksHeld(l.Held())
	}
}

// lockRoutes serves one kind's routes.
type lockRoutes struct {
	h    *handler
	l    *Locks
	kind Kind
}

// routes registers l's routes on mux, each state-changing one through
// guard.
// Register adds the routes of locks and semaphores to mux, for
// api.Options.Routes; guard wraps those that change state.
func (l *Locks) Register(mux *http.ServeMux, guard func(http.HandlerFunc) http.Handler) {
	h := &handler{log: l.opts.Logger}
	for _, kind := range []Kind{KindLock, KindSemaphore} {
		rt := &lockRoutes{h: h, l: l, kind: kind}
		base := "/" + string(kind) + "/{name}"
		mux.Handle("POST "+base, guard(rt.acquire))
		mux.Handle("DELETE "+base, guard(rt.release))
		mux.HandleFunc("GET "+base, rt.inspect)
		mux.Handle("POST "+base+"/renew", guard(rt.renew))
		mux.Handle("POST "+base+"/stream", guard(rt.stream))
		mux.Handle(base, h.methodNotAllowed("GET, HEAD, POST, DELETE"))
		mux.Handle(base+"/renew", h.methodNotAllowed("POST"))
		mux.Handle(base+"/stream", h.methodNotAllowed("POST"))
	}
}

// label is the kind as metrics name it.
func (rt *lockRoutes) label() string {
	if rt.kind == KindSemaphore {
		return "semaphore"
	}
	return "lock"
}

func (rt *lockRoutes) record(op, result string) {
	if r := rt.l.opts.Recorder; r != nil {
		r.LockRequest(rt.label(), op, result)
	}
}

// ok answers 200 with body, and the fence in X-Baton-Fence when there is one.
func (rt *lockRoutes) ok(w http.ResponseWriter, op string, body any, fence uint64) {
	if fence > 0 {
		w.Header().Set("X-Baton-Fence", strconv.FormatUint(fence, 10))
	}
	rt.h.writeJSON(w, http.StatusOK, body)
	rt.record(op, "ok")
}

// fail answers err and counts it; a Redis error is logged here, once.
func (rt *lockRoutes) fail(w http.ResponseWriter, r *http.Request, op, name string, err error) {
	if re, ok := errors.AsType[*httpx.RequestError](err); ok {
		result := "bad_request"
		if re.Code == http.StatusServiceUnavailable {
			result = "busy"
		}
		rt.h.writeError(w, r, re.Code, "%s", re.Msg)
		rt.record(op, result)
		return
	}
	switch {
	case r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// The client went away (or the sidecar is shutting down): nobody
		// reads an answer.
		rt.h.log.Debug("lock call abandoned", "kind", rt.label(), "op", op, "name", name, "remote", r.RemoteAddr)
		rt.record(op, "canceled")
	case errors.Is(err, locks.ErrTimeout), errors.Is(err, locks.ErrHeld), notOwner(err):
		body := LockConflictBody{Error: err.Error()}
		if he, ok := errors.AsType[*locks.HeldError](err); ok {
			hb := holderBody(HolderInfo(he.Holder))
			body.Holder = &hb
		}
		rt.h.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", http.StatusConflict, "err", err)
		rt.h.writeJSON(w, http.StatusConflict, body)
		rt.record(op, "conflict")
	case errors.Is(err, locks.ErrPermits):
		rt.h.writeJSON(w, http.StatusConflict, LockConflictBody{Error: err.Error()})
		rt.record(op, "conflict")
	case errors.Is(err, locks.ErrForeign):
		rt.h.log.Warn("lock key holds a value baton did not write", "kind", rt.label(), "name", name, "err", err)
		rt.h.writeJSON(w, http.StatusConflict, LockConflictBody{Error: err.Error()})
		rt.record(op, "conflict")
	case errors.Is(err, ErrUnsupported):
		rt.h.writeError(w, r, http.StatusNotImplemented, "%v", err)
		rt.record(op, "unsupported")
	case errors.Is(err, locks.ErrInvalid):
		rt.h.writeError(w, r, http.StatusBadRequest, "%v", err)
		rt.record(op, "bad_request")
	default:
		rt.h.log.Error("lock call failed", "kind", rt.label(), "op", op, "name", name, "err", err)
		rt.h.writeError(w, r, http.StatusServiceUnavailable, "redis: %v", err)
		rt.record(op, "error")
	}
}

// reserve takes a place within MaxHeld for an acquire.
func (rt *lockRoutes) reserve() error {
	switch rt.l.reg.reserve() {
	case reserveFull:
		return &httpx.RequestError{Code: http.StatusServiceUnavailable, Msg: fmt.Sprintf(
			"too many locks and permits held or being acquired through this sidecar (at most %d, --locks-max-held); retry later", rt.l.opts.MaxHeld)}
	case reserveClosed:
		return &httpx.RequestError{Code: http.StatusServiceUnavailable, Msg: "the sidecar is shutting down: no new locks"}
	}
	return nil
}

// take acquires req's resource within a reservation and registers it. It
// returns nil, having answered, when it could not.
func (rt *lockRoutes) take(w http.ResponseWriter, r *http.Request, op string, req lockRequest, stream bool) *heldEntry {
	if err := rt.reserve(); err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(httpx.BusyRetryAfter))
		rt.fail(w, r, op, req.res.Name, err)
		return nil
	}
	// A wait may outlast the server's WriteTimeout.
	httpx.ExtendWriteDeadline(http.NewResponseController(w), req.params.Wait+httpx.WriteGrace)
	hold, err := rt.l.backend.Acquire(r.Context(), req.res, req.params)
	if err != nil {
		rt.l.reg.unreserve()
		rt.fail(w, r, op, req.res.Name, err)
		return nil
	}
	// Taken when Acquire returned: the lease cannot outlive this moment
	// plus its TTL in Redis.
	e, ok := rt.l.reg.add(req.res, hold, stream, rt.l.opts.Now())
	if !ok {
		rt.releaseUnseen(hold, req.res)
		rt.fail(w, r, op, req.res.Name, rt.reserve())
		return nil
	}
	rt.l.recordHeld()
	if r.Context().Err() != nil {
		// The client went away as the lock was taken: nobody knows its
		// token, so nobody else would release it.
		_ = rt.l.end(context.Background(), e, "client went away")
		rt.l.recordHeld()
		rt.record(op, "canceled")
		return nil
	}
	return e
}

// releaseUnseen releases a holding that was never registered.
func (rt *lockRoutes) releaseUnseen(h Holding, res Resource) {
	ctx, cancel := context.WithTimeout(context.Background(), rt.l.opts.ReleaseTimeout)
	defer cancel()
	if err := h.Release(ctx); err != nil && !notOwner(err) {
		rt.l.log.Error("release after shutdown began failed", "kind", rt.label(), "name", res.Name, "err", err)
	}
}

// acquire serves POST /{kind}/{name}?wait=&lease=&fair=[&permits=].
func (rt *lockRoutes) acquire(w http.ResponseWriter, r *http.Request) {
	const op = "acquire"
	req, err := rt.l.acquireRequest(r, rt.kind, false)
	if err != nil {
		rt.fail(w, r, op, req.res.Name, err)
		return
	}
	e := rt.take(w, r, op, req, false)
	if e == nil {
		return
	}
	rt.h.log.Debug("lock acquired", "kind", rt.label(), "name", req.res.Name, "fence", e.h.Fence(), "remote", r.RemoteAddr)
	rt.ok(w, op, lockBody(req.res.Name, e.h), e.h.Fence())
}

// renew serves POST /{kind}/{name}/renew?token=.
func (rt *lockRoutes) renew(w http.ResponseWriter, r *http.Request) {
	const op = "renew"
	req, err := rt.l.tokenRequest(r, rt.kind)
	if err != nil {
		rt.fail(w, r, op, req.res.Name, err)
		return
	}
	e, found := rt.l.reg.lookup(req.res, req.token)
	switch {
	case found == lookupReleased:
		rt.fail(w, r, op, req.res.Name, fmt.Errorf("%w: %s %q: released with this token already", locks.ErrNotHeld, rt.label(), req.res.Name))
		return
	case found != lookupHeld:
		rt.fail(w, r, op, req.res.Name, notHeldHere(rt.label(), req.res.Name))
		return
	case e.stream:
		rt.fail(w, r, op, req.res.Name, httpx.BadRequest("token: names a stream's %s, which the sidecar renews itself while the stream is open", rt.label()))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		rt.fail(w, r, op, req.res.Name, fmt.Errorf("%w: %s %q: %s", locks.ErrNotHeld, rt.label(), req.res.Name, e.reason))
		return
	}
	if !rt.l.reg.renewing(e) {
		// Its validity ran out since the lookup.
		rt.fail(w, r, op, req.res.Name, notHeldHere(rt.label(), req.res.Name))
		return
	}
	err = e.h.Renew(r.Context())
	// A renew that failed otherwise than on lost ownership may have run in
	// Redis (its reply was lost): its lease may live its TTL from now.
	rt.l.reg.renewed(e, !notOwner(err), rt.l.opts.Now())
	switch {
	case err == nil:
		rt.ok(w, op, lockBody(req.res.Name, e.h), e.h.Fence())
	case notOwner(err):
		rt.l.finish(e, false, err.Error())
		rt.fail(w, r, op, req.res.Name, err)
	default:
		rt.fail(w, r, op, req.res.Name, err)
	}
}

func notHeldHere(kind, name string) error {
	return fmt.Errorf("%w: %s %q is not held with this token through this sidecar: its lease ran out, it was lost, or the token is not one of this sidecar's", locks.ErrNotHeld, kind, name)
}

// release serves DELETE /{kind}/{name}?token=. A second release of a
// token this sidecar released answers 200 as the first did.
func (rt *lockRoutes) release(w http.ResponseWriter, r *http.Request) {
	const op = "release"
	req, err := rt.l.tokenRequest(r, rt.kind)
	if err != nil {
		rt.fail(w, r, op, req.res.Name, err)
		return
	}
	e, found := rt.l.reg.lookup(req.res, req.token)
	switch found {
	case lookupReleased:
		rt.ok(w, op, LockReleasedBody{Released: true}, 0)
		return
	case lookupLost:
		rt.fail(w, r, op, req.res.Name, notHeldHere(rt.label(), req.res.Name))
		return
	}
	const reason = "released by DELETE"
	tell(r.Context(), e, reason)
	err = rt.l.end(r.Context(), e, reason)
	rt.l.recordHeld()
	if err != nil {
		rt.fail(w, r, op, req.res.Name, err)
		return
	}
	rt.h.log.Debug("lock released", "kind", rt.label(), "name", req.res.Name, "remote", r.RemoteAddr)
	rt.ok(w, op, LockReleasedBody{Released: true}, 0)
}

// inspect serves GET /{kind}/{name}[?permits=].
func (rt *lockRoutes) inspect(w http.ResponseWriter, r *http.Request) {
	const op = "inspect"
	var allowed []string
	if rt.kind == KindSemaphore {
		allowed = []string{"permits"}
	}
	q, err := lockQuery(r, allowed...)
	if err != nil {
		rt.fail(w, r, op, "", err)
		return
	}
	res, err := rt.l.resource(r, rt.kind, q, true)
	if err != nil {
		rt.fail(w, r, op, res.Name, err)
		return
	}
	info, err := rt.l.backend.Inspect(r.Context(), res)
	if err != nil {
		rt.fail(w, r, op, res.Name, err)
		return
	}
	if rt.kind == KindSemaphore {
		body := SemaphoreInfoBody{Name: res.Name, Permits: res.Permits, Holders: []LockHolderBody{}, Queue: info.Queue}
		for _, h := range info.Holders {
			body.Holders = append(body.Holders, holderBody(h))
		}
		rt.ok(w, op, body, 0)
		return
	}
	body := LockInfoBody{Name: res.Name, Fence: info.Fence, Queue: info.Queue}
	if len(info.Holders) > 0 {
		h := info.Holders[0]
		body.Held, body.Holder, body.RemainingMS = true, h.Identity, holderBody(h).RemainingMS
	}
	rt.ok(w, op, body, 0)
}
