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
