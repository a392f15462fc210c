package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// stream serves POST /{kind}/{name}/stream?wait=&lease=&fair=[&permits=]:
// the lock or permit is held for the life of the response. A 409 (or 400,
// 503) answers as for an acquire when it is not taken; else 200 with
// application/x-ndjson events, one per line (LockEvent): acquired,
// keepalive every Keepalive, and lost when the watchdog loses the lease or
// a DELETE or the sidecar's shutdown releases it; the stream ends after
// lost. The watchdog renews the lease while the stream is open. When the
// client closes the stream, or its process dies and the kernel closes the
// connection, net/http ends the request's context and the lock is released
// at once.
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
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), rt.l.opts.ReleaseTimeout)
		defer cancel()
		if err := rt.l.end(ctx, e, "stream closed"); err != nil && !notOwner(err) {
			rt.l.log.Error("release at the end of a stream failed", "kind", rt.label(), "name", name, "err", err)
		}
		rt.l.recordHeld()
	}()

	hdr := w.Header()
	hdr.Set("Content-Type", "application/x-ndjson")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Baton-Fence", formatFence(e.h.Fence()))
	rc := http.NewResponseController(w)
	deadline := rt.l.opts.Keepalive + writeGrace
	extendWriteDeadline(rc, deadline)
	w.WriteHeader(http.StatusOK)
	send := func(ev LockEvent) bool {
		data, err := json.Marshal(ev)
		if err != nil {
			rt.l.log.Error("encode lock event", "err", err)
			return false
		}
		extendWriteDeadline(rc, deadline)
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
			// The lease may still be in Redis (no renew got through in
			// time): give it back by token, so the next holder need not
			// wait out the TTL.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), rt.l.opts.ReleaseTimeout)
			_ = rt.l.end(ctx, e, "lost: "+err.Error())
			cancel()
			send(LockEvent{Event: "lost", Error: err.Error()})
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
