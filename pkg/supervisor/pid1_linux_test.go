package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// TestReapOrphansAsPID1 runs helperPID1 as PID 1 of a new PID namespace.
func TestReapOrphansAsPID1(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		skipUnlessCIRoot(t, "no unshare: %v", err)
	}
	if out, err := exec.Command(unshare, "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		skipUnlessCIRoot(t, "unshare --pid --fork --mount-proc does not work here: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*guard)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--pid", "--fork", "--mount-proc", os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=pid1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "ok\n") {
		t.Fatalf("PID 1 helper: %v\n%s", err, out)
	}
}

// skipUnlessCIRoot skips, except under CI=true as root, where a namespace
// that cannot be made is a broken runner.
func skipUnlessCIRoot(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
		t.Fatalf(format+" (under CI=true as root)", args...)
	}
	t.Skipf(format, args...)
}

// helperPID1 checks, as PID 1, that ReapOrphans reaps an orphan that left
// the job's process group, and never takes a supervised child's status.
func helperPID1() error {
	if os.Getpid() != 1 {
		return fmt.Errorf("running as PID %d, not 1", os.Getpid())
	}
	dir, err := os.MkdirTemp("", "baton-pid1-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	escaped, release := filepath.Join(dir, "escaped"), filepath.Join(dir, "release")
	for _, f := range []string{escaped, release} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			return err
		}
	}

	reaped := make(chan int, 16)
	ctx, cancel := context.WithCancel(context.Background())
	reaperDone := make(chan error, 1)
	go func() { reaperDone <- ReapOrphans(ctx, slog.New(&reapLog{pids: reaped})) }()
	defer func() { cancel(); <-reaperDone }()

	// The job's shell starts a grandchild in a session of its own, which
	// the group's stop does not reach, waits until it is there, and exits:
	// the grandchild is handed to PID 1.
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	exits := make(chan Exit, 1)
	s, err := New(Options{
		Command: []string{"sh", "-c", `setsid sh -c 'echo $$; echo > "$ESCAPED"; read x < "$RELEASE"' & read y < "$ESCAPED"; exit 3`},
		Env:     []string{"ESCAPED=" + escaped, "RELEASE=" + release},
		Stdout:  w, Lock: "job", Identity: "pid1",
		OnChildExit: func(_ context.Context, ex Exit) { exits <- ex },
	})
	if err != nil {
		return err
	}
	s.Lead(context.Background(), election.Term{Fence: 1})
	w.Close()
	ex := <-exits
	if ex.Status.Code != 3 {
		return fmt.Errorf("the job's status %v, want exit status 3", ex.Status)
	}
	var buf [32]byte
	n, err := r.Read(buf[:])
	if err != nil {
		return fmt.Errorf("reading the orphan's PID: %w", err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return fmt.Errorf("orphan PID %q: %w", buf[:n], err)
	}
	if err := syscall.Kill(orphan, 0); err != nil {
		return fmt.Errorf("the orphan %d is not running: %w", orphan, err)
	}
	f, err := os.OpenFile(release, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, _ = f.WriteString("\n")
	f.Close()
	if err := waitReaped(reaped, orphan); err != nil {
		return err
	}
	if err := syscall.Kill(orphan, 0); err != syscall.ESRCH {
		return fmt.Errorf("orphan %d still there after its reap: %v", orphan, err)
	}

	// Children that exit at once, while the reaper runs: every status must
	// reach its supervisor.
	for i := range 40 {
		s, err := New(Options{
			Command: []string{"sh", "-c", "exit 3"}, Lock: "job", Identity: "pid1",
			OnChildExit: func(_ context.Context, ex Exit) { exits <- ex },
		})
		if err != nil {
			return err
		}
		s.Lead(context.Background(), election.Term{Fence: uint64(i + 2)})
		if ex := <-exits; ex.Status.Code != 3 {
			return fmt.Errorf("run %d: status %v, want exit status 3: the reaper took it", i, ex.Status)
		}
	}
	return nil
}

func waitReaped(reaped <-chan int, pid int) error {
	deadline := time.After(guard)
	for {
		select {
		case p := <-reaped:
			if p == pid {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("orphan %d was not reaped", pid)
		}
	}
}

// reapLog is a slog handler that passes on the PIDs of "reaped orphan".
type reapLog struct{ pids chan<- int }

func (h *reapLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *reapLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *reapLog) WithGroup(string) slog.Handler            { return h }
func (h *reapLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "reaped orphan" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "pid" {
			select { // never block the reaper, which holds the registry
			case h.pids <- int(a.Value.Int64()):
			default:
			}
		}
		return true
	})
	return nil
}
