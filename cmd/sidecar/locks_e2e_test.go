//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// streamClientEnv, when set, makes the test binary a stream client (see
// streamClient): it opens the stream at that URL, prints the
// acquired event on stdout and holds the stream until it is killed.
const streamClientEnv = "BATON_TEST_STREAM_CLIENT_URL"

func init() {
	url := os.Getenv(streamClientEnv)
	if url == "" {
		return
	}
	os.Exit(streamClient(url))
}

// streamClient holds a lock stream for as long as it lives, at most
// e2eGuard. If the test dies, the stream ends with the sidecar (the test's
// cleanup kills it), and the client with it.
func streamClient(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), e2eGuard)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		fmt.Println(sc.Text())
	}
	return 0
}

// lockKey is the lease key of the application lock name.
func lockKey(name string) string { return httpapi.DefaultLocksPrefix + ":{" + name + "}:lease" }

// awaitKeyGone waits until key has left Redis and returns how long it
// took. Redis is polled: the test reads the outcome, it races nothing.
func awaitKeyGone(t *testing.T, rdb *redis.Client, key string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		n, err := rdb.Exists(t.Context(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return time.Since(start)
		}
		if time.Since(start) > e2eGuard {
			t.Fatalf("%s still in Redis after %v", key, e2eGuard)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustExist(t *testing.T, rdb *redis.Client, key string) {
	t.Helper()
	if n, err := rdb.Exists(t.Context(), key).Result(); err != nil || n != 1 {
		t.Fatalf("%s not in Redis (%d, %v)", key, n, err)
	}
}

// openLockStream opens a stream on the real sidecar and returns its first
// event and the response.
func openLockStream(t *testing.T, ctx context.Context, url string) (httpapi.LockEvent, *http.Response, *bufio.Scanner) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s = %d %s", url, resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatalf("stream ended before its first event: %v", sc.Err())
	}
	var ev httpapi.LockEvent
	if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Event != "acquired" {
		t.Fatalf("first event %q (%v); want acquired", sc.Text(), err)
	}
	return ev, resp, sc
}

// A stream's lock is released when its client closes the connection, and
// when its client's process is killed with SIGKILL.
func TestLockStreamEndsWithItsClient(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	s := startSidecar(t, srv.Addr(), "a")

	t.Run("close", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		_, resp, _ := openLockStream(t, ctx, s.APIURL+"/locks/closed/stream")
		mustExist(t, rdb, lockKey("closed"))
		resp.Body.Close()
		cancel()
		t.Logf("FIGURE stream closed by the client to lock gone from Redis: %v", awaitKeyGone(t, rdb, lockKey("closed")))
	})

	t.Run("SIGKILL", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), streamClientEnv+"="+s.APIURL+"/locks/killed/stream")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		sc := bufio.NewScanner(out)
		if !sc.Scan() || !strings.Contains(sc.Text(), `"event":"acquired"`) {
			t.Fatalf("client's first line %q; want the acquired event", sc.Text())
		}
		mustExist(t, rdb, lockKey("killed"))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		t.Logf("FIGURE stream client SIGKILLed to lock gone from Redis: %v", awaitKeyGone(t, rdb, lockKey("killed")))
	})

	// Both gone through the API too: a new holder at once.
	for _, name := range []string{"closed", "killed"} {
		if r := call(t, "POST", s.APIURL+"/locks/"+name); r.code != 200 {
			t.Errorf("POST /locks/%s after its stream ended = %d %s", name, r.code, r.raw)
		}
	}
}

// SIGTERM releases every lock the sidecar holds, leased and streamed,
// before it exits with 0, and the stream says lost.
func TestSIGTERMReleasesApplicationLocks(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	s := startSidecar(t, srv.Addr(), "a", "--locks-max-held", "5")
	for _, name := range []string{"x", "y"} {
		if r := call(t, "POST", s.APIURL+"/locks/"+name+"?lease=1h"); r.code != 200 {
			t.Fatalf("POST /locks/%s = %d %s", name, r.code, r.raw)
		}
	}
	_, _, sc := openLockStream(t, t.Context(), s.APIURL+"/locks/z/stream?lease=1h")
	for _, name := range []string{"x", "y", "z"} {
		mustExist(t, rdb, lockKey(name))
	}
	m := call(t, "GET", s.ProbeURL+"/metrics").raw
	for _, want := range []string{"baton_locks_held 3", `baton_lock_requests_total{kind="lock",op="acquire",result="ok"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var last httpapi.LockEvent
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("bad event %q", sc.Text())
		}
	}
	if last.Event != "lost" || !strings.Contains(last.Error, "shutting down") {
		t.Errorf("last stream event %+v; want lost: shutting down", last)
	}
	select {
	case <-s.Exited():
	case <-time.After(e2eGuard):
		t.Fatal("sidecar did not exit after SIGTERM")
	}
	if code := s.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	for _, name := range []string{"x", "y", "z"} {
		if n, err := rdb.Exists(t.Context(), lockKey(name)).Result(); err != nil || n != 0 {
			t.Errorf("%s still in Redis after the sidecar's exit (%d, %v)", lockKey(name), n, err)
		}
	}
}
