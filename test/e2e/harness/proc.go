//go:build linux

package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a process the harness started, with its output in a log file.
type Proc struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProc starts bin with args, output to Dir/logs/<name>.log, in a
// process group of its own (a Ctrl-C on the terminal reaches the test, which
// tears down in order), and killed if the test process dies. The PID is
// recorded in the state before startProc returns.
func (c *Cluster) startProc(name, bin string, args []string, env []string) (*Proc, error) {
	logPath := filepath.Join(c.Dir, "logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("harness: %s log: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("harness: start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	start, _ := procStart(cmd.Process.Pid)
	if err := c.state.update(func(s *State) {
		s.Procs = append(s.Procs, RecordedProc{Name: name, PID: cmd.Process.Pid, Start: start})
	}); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Tail is the end of the process's log, for error messages.
func (p *Proc) Tail() string { return tailFile(p.Log, 3000) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// procStart is the start time of pid in clock ticks since boot.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("harness: malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, errors.New("harness: short stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether the recorded process is still the one that runs
// under its PID.
func (r RecordedProc) alive() bool {
	start, err := procStart(r.PID)
	if err != nil {
		return false
	}
	if r.Start != 0 && start != r.Start {
		return false
	}
	// A zombie still has a stat file; it is gone for our purposes.
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.PID))
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

// stopPID sends SIGTERM to the recorded process, then SIGKILL after grace,
// and waits until it is gone.
func stopPID(r RecordedProc, grace time.Duration) error {
	if !r.alive() {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGTERM)
	if waitGone(r, grace) {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGKILL)
	if waitGone(r, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("harness: %s (pid %d) survived SIGKILL", r.Name, r.PID)
}

func waitGone(r RecordedProc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for r.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// pidsWithArg lists the PIDs whose command line has an argument equal to
// arg (for containerd's shims: their containerd socket path), and whose
// executable's name contains exe.
func pidsWithArg(exe, arg string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if !strings.Contains(filepath.Base(args[0]), exe) {
			continue
		}
		for _, a := range args[1:] {
			if a == arg || a == "unix://"+arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
