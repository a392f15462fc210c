package api

import (
	"io"
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/httpx"
)

// setStreamHeaders sets the headers of an event stream: no caching, and no
// buffering by a proxy such as nginx.
func setStreamHeaders(w http.ResponseWriter) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
}

// eventStream writes the blocks of an event stream, each flushed at once
// under a write deadline that outlasts the wait for the next heartbeat.
type eventStream struct {
	w        io.Writer
	rc       *http.ResponseController
	deadline time.Duration
}

// newEventStream moves w's write deadline; call it before the first write.
func newEventStream(w http.ResponseWriter, heartbeat time.Duration) *eventStream {
	s := &eventStream{w: w, rc: http.NewResponseController(w), deadline: heartbeat + httpx.WriteGrace}
	httpx.ExtendWriteDeadline(s.rc, s.deadline)
	return s
}

// send writes and flushes block; false means the client is gone.
func (s *eventStream) send(block string) bool {
	httpx.ExtendWriteDeadline(s.rc, s.deadline)
	if _, err := io.WriteString(s.w, block); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

// openStream starts an event stream's answer: it refuses bad parameters
// (400) and a full watcher table (busy), answers HEAD with the headers
// alone, and otherwise takes a watcher slot and writes the headers. A nil
// stream means the answer is complete; release frees the slot.
func (h *handler) openStream(w http.ResponseWriter, r *http.Request) (s *eventStream, release func()) {
	if _, err := httpx.Query(r); err != nil {
		h.writeRequestError(w, r, err)
		return nil, nil
	}
	if r.Method == http.MethodHead {
		setStreamHeaders(w)
		w.WriteHeader(http.StatusOK)
		return nil, nil
	}
	release, ok := h.watchers.acquire()
	if !ok {
		h.writeBusy(w, r)
		return nil, nil
	}
	setStreamHeaders(w)
	s = newEventStream(w, h.opts.HeartbeatInterval)
	w.WriteHeader(http.StatusOK)
	return s, release
}
