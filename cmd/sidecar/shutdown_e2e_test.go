//go:build unix

package main

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/test/chaos"
)

// TestSIGTERMBoundWithRedisBlackholed: with Redis black-holed, a job that
// ignores SIGTERM and an application lock stream held, SIGTERM ends the
// process within --kill-grace + --release-timeout + 2s in exec mode, and
// within --release-timeout + 2s in sidecar mode: the application locks are
// released alongside the election's release, not after it. The timings make
// the old serial order (kill grace, then the election's release timeout,
// then the locks' release timeout: 9s) exceed the exec bound (7s) by two
// seconds, and leave the expected 5s two seconds below it.
func TestSIGTERMBoundWithRedisBlackholed(t *testing.T) {
	const (
		ttl            = 9 * time.Second // margin 3s: room for the grace
		killGrace      = time.Second
		releaseTimeout = 4 * time.Second
	)
	timings := []string{"--lease-ttl", ttl.String(), "--release-timeout", releaseTimeout.String()}
	for _, tc := range []struct {
		mode  string
		bound time.Duration
		// start runs baton on redisAddr as the leader, its job (if any)
		// running, and returns its API's URL, a SIGTERM and a wait for
		// the process's end.
		start func(t *testing.T, redisAddr string) (apiURL string, sigterm func(), exited <-chan struct{})
	}{
		{"sidecar", releaseTimeout + httpShutdownTimeout, func(t *testing.T, redisAddr string) (string, func(), <-chan struct{}) {
			s := startSidecar(t, redisAddr, "a", append(timings, "--kube", "false")...)
			ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
			defer cancel()
			mustLead(t, ctx, s)
			return s.APIURL, func() { _ = s.Signal(syscall.SIGTERM) }, s.Exited()
		}},
		{"exec", killGrace + releaseTimeout + httpShutdownTimeout, func(t *testing.T, redisAddr string) (string, func(), <-chan struct{}) {
			log := newJobLog(t)
			b := startExec(t, redisAddr, "job", "a", fmt.Sprintf(`trap '' TERM; echo "start $$" >> %s; while :; do sleep 1; done`, log),
				append(timings, "--kill-grace", killGrace.String())...)
			pid, _ := strconv.Atoi(log.lines(t, "start", 1)[0][1])
			t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
			return b.apiURL, func() { _ = b.cmd.Process.Signal(syscall.SIGTERM) }, b.done
		}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := redistest.Start(t)
			knownStore(t, srv.Client(), "job")
			proxy, err := chaos.NewProxy(srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = proxy.Close() })
			apiURL, sigterm, exited := tc.start(t, proxy.Addr())
			openLockStream(t, t.Context(), apiURL+"/locks/held/stream?lease=1h")
			mustExist(t, srv.Client(), lockKey("held"))

			proxy.SetBlackhole(true)
			start := time.Now()
			sigterm()
			select {
			case <-exited:
			case <-time.After(e2eGuard):
				t.Fatalf("baton still running %v after SIGTERM", e2eGuard)
			}
			took := time.Since(start)
			t.Logf("FIGURE %s mode, Redis black-holed: SIGTERM to exit %v (bound %v)", tc.mode, took, tc.bound)
			if took > tc.bound {
				t.Errorf("SIGTERM to exit took %v with Redis black-holed, beyond the bound %v", took, tc.bound)
			}
		})
	}
}
