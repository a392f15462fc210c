//go:build unix

package locks_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/redistest"
)

// eventually waits until cond holds, checking every few milliseconds, and
// fails the test after limit: a condition, not a sleep, decides.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// queued reads the number of live fair-queue entries of l.
func queued(t *testing.T, l *lockcore.Lock) int {
	t.Helper()
	info, err := l.Inspect(t.Context())
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return info.Queue
}

// callsDuring runs f and returns, per Redis command, how many more times
// the server ran it meanwhile (INFO commandstats through c).
func callsDuring(t *testing.T, c redistest.InfoReader, f func()) map[string]int64 {
	t.Helper()
	before, err := redistest.CommandCalls(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	f()
	after, err := redistest.CommandCalls(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	for cmd, n := range after {
		after[cmd] = n - before[cmd]
	}
	return after
}

// outOfOrder counts the places of order, a permutation of 0..len-1 in the
// order things happened, that do not hold their own index.
func outOfOrder(order []int) int {
	n := 0
	for i, w := range order {
		if w != i {
			n++
		}
	}
	return n
}

// startHelper runs this test binary as a child process in its own process
// group, running only the helper test named test with env set to spec,
// and kills it at the end of the test. exited is closed when it has exited;
// out collects what it printed.
func startHelper(t *testing.T, test, env, spec string) (child *exec.Cmd, exited <-chan struct{}, out *strings.Builder) {
	t.Helper()
	child = exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	child.Env = append(os.Environ(), env+"="+spec)
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out = &strings.Builder{}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = child.Wait(); close(done) }()
	t.Cleanup(func() { _ = child.Process.Kill(); <-done })
	return child, done, out
}

// helperSpec reads, in a helper process started by startHelper, the spec
// "REDIS_ADDR name duration" from env, and skips the test when env is not
// set: then it runs as an ordinary test, and there is nothing to help.
func helperSpec(t *testing.T, env string) (addr, name string, d time.Duration) {
	t.Helper()
	spec := os.Getenv(env)
	if spec == "" {
		t.Skip("helper process only")
	}
	var ds string
	if _, err := fmt.Sscan(spec, &addr, &name, &ds); err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseDuration(ds)
	if err != nil {
		t.Fatal(err)
	}
	return addr, name, d
}
