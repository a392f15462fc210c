//go:build linux

package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// DialInNetns connects to addr from inside the network namespace of pid:
// baton's API listens on the pod's 127.0.0.1 only. The socket is created
// in that namespace (a socket keeps the namespace it was created in), by a
// thread that switches there and back; a thread that cannot switch back is
// never returned to the runtime.
func DialInNetns(ctx context.Context, pid int, addr string) (net.Conn, error) {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("harness: netns of %d: %w", pid, err)
	}
	defer target.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("harness: setns: %w", err)}
			return
		}
		// Dialing 127.0.0.1 completes at once or fails; the socket is made
		// on this thread.
		d := net.Dialer{Timeout: time.Second}
		conn, derr := d.DialContext(ctx, "tcp", addr)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			ch <- result{conn, derr}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{conn, derr}
	}()
	r := <-ch
	return r.conn, r.err
}

// PodHTTPClient is an HTTP client whose connections are made in the
// network namespace of pid, for URLs on the pod's loopback.
func PodHTTPClient(pid int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return DialInNetns(ctx, pid, addr)
			},
			DisableKeepAlives:   false,
			MaxIdleConnsPerHost: 2,
		},
	}
}
