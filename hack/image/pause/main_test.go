//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procField returns the value of a "Name:\tvalue" line of /proc/pid/status.
func procField(pid int, field string) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// waitFor polls cond until it holds or ctx ends; it waits for a state of
// another process, not for a race to be won.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestReapAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pids []int
	for range 3 {
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, cmd.Process.Pid)
	}
	for _, pid := range pids {
		waitFor(ctx, t, fmt.Sprintf("child %d to become a zombie", pid), func() bool {
			state, err := procField(pid, "State")
			return err == nil && strings.HasPrefix(state, "Z")
		})
	}
	reaped := reapAll()
	if len(reaped) != len(pids) {
		t.Fatalf("reaped %v, want %v", reaped, pids)
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("child %d is still there: %v", pid, err)
		}
	}
	if again := reapAll(); len(again) != 0 {
		t.Errorf("second reap returned %v", again)
	}
}

// TestRun feeds run the signals the kernel would: a SIGCHLD reaps the
// exited child, and SIGTERM or SIGINT ends it with status 0. (The built
// program is not signalled from here: nothing outside it can tell when its
// handler is installed, and a signal before that would kill it.)
func TestRun(t *testing.T) {
	for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(stop.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.Command("true")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := cmd.Process.Pid
			waitFor(ctx, t, "the child to become a zombie", func() bool {
				state, err := procField(pid, "State")
				return err == nil && strings.HasPrefix(state, "Z")
			})
			sigs := make(chan os.Signal, 2)
			sigs <- syscall.SIGCHLD
			sigs <- stop
			if code := run(sigs); code != 0 {
				t.Fatalf("run = %d, want 0", code)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("child %d was not reaped: %v", pid, err)
			}
		})
	}
	closed := make(chan os.Signal)
	close(closed)
	if code := run(closed); code != 0 {
		t.Errorf("run on a closed channel = %d", code)
	}
}
