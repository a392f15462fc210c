//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
)

// TestLibraryLogsAreJSON runs the sidecar against a Redis that refuses
// connections, which makes go-redis log on its own, and checks that every
// line of the process is one JSON object.
func TestLibraryLogsAreJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: every dial is refused

	cmd := exec.Command(binary(t), "--lock", "job", "--identity", "a", "--redis-addr", dead,
		"--lease-ttl", "300ms", "--api-addr", "127.0.0.1:0", "--probe-addr", "127.0.0.1:0", "--kube", "false")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	guard := time.AfterFunc(e2eGuard, func() { _ = cmd.Process.Kill() })
	defer guard.Stop()

	var lines []string
	sawRedis, signalled := false, false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		if obj["source"] == "go-redis" {
			sawRedis = true
		}
		// go-redis has had its say once a failed acquire follows its
		// line; then stop.
		if !signalled && sawRedis && strings.Contains(line, "lock acquire failed") {
			signalled = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	_ = cmd.Wait()
	if !signalled {
		t.Fatalf("no go-redis line followed by a failed acquire; log:\n%s", strings.Join(lines, "\n"))
	}
}

// TestWarnsWhenRedisMayEvictTheLease: under a volatile-* policy the lease,
// the only key with a TTL, is evicted first; the sidecar says so at start.
func TestWarnsWhenRedisMayEvictTheLease(t *testing.T) {
	for _, tc := range []struct {
		policy string
		warn   bool
	}{{"volatile-lru", true}, {"allkeys-lfu", true}, {"noeviction", false}} {
		t.Run(tc.policy, func(t *testing.T) {
			srv := redistest.Start(t, "maxmemory-policy "+tc.policy)
			s := startSidecar(t, srv.Addr(), "a")
			// Either line ends the check; wait for one of them.
			var b []byte
			deadline := time.Now().Add(e2eGuard)
			for !strings.Contains(string(b), `"maxmemory_policy"`) {
				if time.Now().After(deadline) {
					t.Fatalf("no maxmemory-policy line; log:\n%s", b)
				}
				time.Sleep(10 * time.Millisecond) // the sidecar logs on its own schedule
				b, _ = os.ReadFile(s.LogPath)
			}
			if got := strings.Contains(string(b), "set maxmemory-policy noeviction"); got != tc.warn {
				t.Errorf("warned %v under %s, want %v; log:\n%s", got, tc.policy, tc.warn, b)
			}
		})
	}
}
