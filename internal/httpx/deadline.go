package httpx

import (
	"net/http"
	"time"
)

// WriteGrace is how long a write may take beyond the moment it is due
// before the connection counts as stalled.
const WriteGrace = 10 * time.Second

// ExtendWriteDeadline lets the response be written until d from now,
// whatever the server's WriteTimeout, for a handler that waits on purpose.
// Only the write deadline needs it: once a request is read, net/http lifts
// the read deadline while it watches the connection for the client going
// away. Writers that cannot set deadlines (such as test recorders) are left
// as they are.
func ExtendWriteDeadline(rc *http.ResponseController, d time.Duration) {
	_ = rc.SetWriteDeadline(time.Now().Add(d))
}
