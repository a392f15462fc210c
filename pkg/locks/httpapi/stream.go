package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/backoff"
	"github.com/baton-dev/baton/internal/httpx"
)

// stream serves POST /{kind}/{name}/stream?wait=&lease=&fair=[&permits=]:
// the lock or permit is held for the life of the response. A 409 (or 400,
// 503) answers as for an acquire when it is not taken; else 200 with
// application/x-ndjson events, one per line (LockEvent): acquired,
// keepalive every Keepalive, and lost when the watchdog loses the lease or
// a DELETE or the sidecar's shutdown releases it (sent before the release
// is); the stream ends after lost. The watchdog renews the lease while the
// stream is open. When the client closes the stream, or its process dies
// and the kernel closes the connection, net/http ends the request's
// context and the lock is released at once; if that release fails,
// releaseLater retries it.
func (rt *lockRoutes) stream(w http.ResponseWriter, r *http.Request) {
	const op = "stream"
	req, err := rt.l.acquireRequest(r, rt.kind, true)
	if err != nil {
		rt.fail(w, r, op, req.res.Name, err)
		return
	}
	e := rt.take(w, r, op, req, true)
	if e == nil {
		return
	}
	name := req.res.Name
	// However the stream ends, the holding ends with it.
	reason := "stream closed"
	defer func() {
		if rt.l.closing.Err() != nil {
			// ReleaseAll has begun: it releases every holding itself,
			// within its own bound. A second try here would hold the
			// server's shutdown for another ReleaseTimeout when Redis
			// does not answer.
			rt.l.recordHeld()
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), rt.l.opts.ReleaseTimeout)
		defer cancel()
		if err := rt.l.end(ctx, e, reason); err != nil && !notOwner(err) {
			rt.l.log.Error("release at the end of a stream failed; retrying in the background", "kind", rt.label(), "name", name, "err", err)
			rt.l.releaseLater(e, reason)
		}
		rt.l.recordHeld()
	}()
	// Runs before the release above: a DELETE or a shutdown waiting in
	// tell releases as soon as the stream has ended.
	defer close(e.told)

	hdr := w.Header()
	hdr.Set("Content-Type", "application/x-ndjson")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Baton-Fence", formatFence(e.h.Fence()))
	rc := http.NewResponseController(w)
	deadline := rt.l.opts.Keepalive + httpx.WriteGrace
	httpx.ExtendWriteDeadline(rc, deadline)
	w.WriteHeader(http.StatusOK)
	send := func(ev LockEvent) bool {
		data, err := json.Marshal(ev)
		if err != nil {
			rt.l.log.Error("encode lock event", "err", err)
			return false
		}
		httpx.ExtendWriteDeadline(rc, deadline)
		if _, err := w.Write(append(data, '\n')); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(LockEvent{Event: "acquired", Name: name, Token: e.h.Token(), Fence: e.h.Fence(), LeaseMS: e.h.TTL().Milliseconds()}) {
		rt.record(op, "canceled")
		return
	}
	rt.record(op, "ok")
	rt.h.log.Debug("stream lock acquired", "kind", rt.label(), "name", name, "fence", e.h.Fence(), "remote", r.RemoteAddr)

	keepalive := time.NewTicker(rt.l.opts.Keepalive)
	defer keepalive.Stop()
	for {
		select {
		case <-keepalive.C:
			if !send(LockEvent{Event: "keepalive"}) {
				return
			}
		case <-e.h.Lost():
			err := e.h.Err()
			rt.l.log.Warn("stream lock lost", "kind", rt.label(), "name", name, "fence", e.h.Fence(), "err", err)
			// The client is told first: the lease may expire in Redis a
			// third of its TTL from now, and a release may wait on a Redis
			// that does not answer. The lease may still be in Redis (no
			// renew got through in time): the deferred release gives it
			// back by token, so the next holder need not wait out the TTL.
			reason = "lost: " + err.Error()
			send(LockEvent{Event: "lost", Error: err.Error()})
			return
		case <-e.stop:
			// A DELETE or the shutdown releases the lease once the client
			// has been told.
			reason = e.stopReason
			send(LockEvent{Event: "lost", Error: reason})
			return
		case <-e.ended:
			e.mu.Lock()
			reason := e.reason
			e.mu.Unlock()
			send(LockEvent{Event: "lost", Error: reason})
			return
		case <-r.Context().Done():
			rt.h.log.Debug("stream closed by the client", "kind", rt.label(), "name", name, "remote", r.RemoteAddr)
			return
		}
	}
}

// Bounds of releaseLater's backoff.
const (
	laterFirst = 100 * time.Millisecond
	laterMax   = 2 * time.Second
)

// releaseLater retries, in the background, the release of e, a stream's
// holding whose release at the end of the stream failed (Redis did not
// answer): its watchdog still renews it. It retries with backoff until a
// release succeeds or the holding is lost (Lost is closed, at the latest a
// third of the TTL before the lease can expire in Redis, which then
// expires by itself); either way e leaves the registry and its place
// within MaxHeld comes back. It stops when ReleaseAll begins, which
// releases e itself.
func (l *Locks) releaseLater(e *heldEntry, reason string) {
	go func() {
		delay := laterFirst
		for {
			t := time.NewTimer(backoff.Jitter(delay))
			select {
			case <-e.h.Lost():
				t.Stop()
				e.mu.Lock()
				if !e.done {
					l.finish(e, false, "lost: "+e.h.Err().Error())
				}
				e.mu.Unlock()
				return
			case <-l.closing.Done():
				t.Stop()
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(l.closing, l.opts.ReleaseTimeout)
			err := l.end(ctx, e, reason)
			cancel()
			if err == nil || notOwner(err) {
				return
			}
			delay = min(2*delay, laterMax)
		}
	}()
}
