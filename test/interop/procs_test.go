//go:build linux

package interop

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// The timings of both sides: a 2 s lease, the least that the kube-lease
// backend accepts (whole seconds). baton renews every second (the least on
// a Lease) and steps down at 1333 ms (two thirds); its guard kills the job
// 500 ms later at the latest (--kill-grace's default here). client-go:
// LeaseDuration 2 s, RenewDeadline 1 s, RetryPeriod 250 ms.
const (
	leaseTTL     = 2 * time.Second
	renewDL      = time.Second
	retryPeriod  = 250 * time.Millisecond
	eventTimeout = 20 * time.Second // a handover or a naming beyond it fails the test
)

// clientGoProc is one run of the clientgo program.
type clientGoProc struct {
	cmd    *exec.Cmd
	exited chan struct{}

	mu      sync.Mutex
	leaders []string // OnNewLeader, in order
}

func startClientGo(dir, lease, identity, stamps string) (*clientGoProc, error) {
	logf, err := os.OpenFile(filepath.Join(dir, identity+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(clientGo, "-kubeconfig", kubeconfig, "-namespace", "default", "-name", lease, "-identity", identity,
		"-stamps", stamps, "-lease-duration", leaseTTL.String(), "-renew-deadline", renewDL.String(), "-retry-period", retryPeriod.String())
	cmd.Stderr = logf
	// Gone with the test binary, even when it dies of a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		_ = logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	p := &clientGoProc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if fs := strings.Fields(sc.Text()); len(fs) == 3 && fs[0] == "newleader" {
				p.mu.Lock()
				p.leaders = append(p.leaders, fs[2])
				p.mu.Unlock()
			}
		}
		_ = cmd.Wait()
		_ = logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// named waits until the elector reported holder through OnNewLeader.
func (p *clientGoProc) named(ctx context.Context, holder string) bool {
	return until(ctx, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.leaders {
			if l == holder {
				return true
			}
		}
		return false
	})
}

// startBaton starts `baton run --backend kube-lease ... -- stampjob`.
// sidecartest.Launch puts its flags first, so a wrapper supplies "run".
func startBaton(dir, lease, identity, stamps string) (*sidecartest.Sidecar, error) {
	wrapper := filepath.Join(dir, "baton-run")
	if _, err := os.Stat(wrapper); err != nil {
		if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+batonBin+" run \"$@\"\n"), 0o755); err != nil {
			return nil, err
		}
	}
	return sidecartest.Launch(wrapper, dir, identity, "", lease,
		"--backend", "kube-lease", "--kubeconfig", kubeconfig, "--lease-namespace", "default",
		"--lease-ttl", leaseTTL.String(), "--kube", "false", "--log-level", "debug",
		"--", stampJob, "-stamps", stamps)
}

// batonNames waits until s is a follower that names holder.
func batonNames(ctx context.Context, s *sidecartest.Sidecar, holder string) bool {
	return until(ctx, func() bool {
		st, err := s.Leader(ctx, 0)
		return err == nil && !st.Leader && st.Holder == holder
	})
}

// until polls cond every 5 ms until it holds, ctx ends or eventTimeout
// passed.
func until(ctx context.Context, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stopProcess sends SIGSTOP to pid and returns when every thread of it is
// stopped, at that moment on CLOCK_MONOTONIC: no stamp of it can be later
// until SIGCONT.
func stopProcess(ctx context.Context, pid int) (int64, error) {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return 0, err
	}
	if !until(ctx, func() bool { return allStopped(pid) }) {
		return 0, fmt.Errorf("pid %d not stopped after SIGSTOP", pid)
	}
	return clocks.MonotonicNS(), nil
}

func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// The state follows the command name, which is in parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		if st := strings.Fields(rest); len(st) == 0 || (st[0] != "T" && st[0] != "t") {
			return false
		}
	}
	return true
}

// descendantsOf lists the descendants of pid, each before its children.
func descendantsOf(pid int) []int {
	var out []int
	queue := childrenOf(pid)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, childrenOf(p)...)
	}
	return out
}

func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
