// Package proc starts the processes of baton's demo, benchmarks and
// end-to-end tests: a throwaway redis-server and baton sidecars on free
// loopback ports, and reads what /proc says about them. It is not internal
// so that the separate bench module can use it too.
package proc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreePort returns a free loopback port, never 6379.
func FreePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

// Redis is a redis-server without persistence in a temporary directory.
type Redis struct {
	Addr string
	cmd  *exec.Cmd
}

// StartRedis starts redis-server and waits until it answers.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.Addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return r, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.Stop()
			return nil, fmt.Errorf("redis-server on %s did not start: %w", r.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server.
func (r *Redis) Stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// PID of the server.
func (r *Redis) PID() int { return r.cmd.Process.Pid }

// Sidecar is one running baton process.
type Sidecar struct {
	Identity string
	APIAddr  string // host:port of the API
	APIURL   string
	ProbeURL string
	Cmd      *exec.Cmd
	// LogPath is the file that receives the sidecar's output.
	LogPath string
	// Client makes the API calls; nil means http.DefaultClient.
	Client *http.Client
	exited chan struct{}
}

func (s *Sidecar) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

// PID of the sidecar.
func (s *Sidecar) PID() int { return s.Cmd.Process.Pid }

// Stop sends SIGTERM and waits up to d for the exit, then kills.
func (s *Sidecar) Stop(d time.Duration) {
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(d):
		s.Kill()
	}
}

// Release calls POST /leader/release?hold_off=holdOff.
func (s *Sidecar) Release(ctx context.Context, holdOff time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.APIURL+"/leader/release?hold_off="+holdOff.String(), nil)
	if err != nil {
		return err
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /leader/release: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// StartSidecar starts bin with the given identity and extra flags, logging
// to <dir>/<identity>.log.
func StartSidecar(bin, dir, identity, redisAddr, lock string, extra ...string) (*Sidecar, error) {
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	probePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	apiAddr := "127.0.0.1:" + strconv.Itoa(apiPort)
	args := append([]string{
		"--lock", lock, "--identity", identity, "--redis-addr", redisAddr,
		"--api-addr", apiAddr,
		"--probe-addr", "127.0.0.1:" + strconv.Itoa(probePort),
	}, extra...)
	logPath := filepath.Join(dir, identity+".log")
	// Appending keeps the log of an earlier process with the same identity.
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Sidecar{
		Identity: identity,
		APIAddr:  apiAddr,
		APIURL:   "http://" + apiAddr,
		ProbeURL: "http://127.0.0.1:" + strconv.Itoa(probePort),
		Cmd:      cmd,
		LogPath:  logPath,
		exited:   make(chan struct{}),
	}
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(s.exited) }()
	return s, nil
}

// Exited is closed when the process has exited.
func (s *Sidecar) Exited() <-chan struct{} { return s.exited }

// Signal sends sig to the sidecar.
func (s *Sidecar) Signal(sig syscall.Signal) error { return s.Cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits for the exit.
func (s *Sidecar) Kill() {
	_ = s.Cmd.Process.Kill()
	<-s.exited
}

// Status is the body of GET /leader.
type Status struct {
	Leader      bool   `json:"leader"`
	Identity    string `json:"identity"`
	Holder      string `json:"holder"`
	Fence       uint64 `json:"fence"`
	RemainingMS int64  `json:"remaining_ms"`
}

// Leader calls GET /leader with an optional long-poll wait.
func (s *Sidecar) Leader(ctx context.Context, wait time.Duration) (Status, error) {
	url := s.APIURL + "/leader"
	if wait > 0 {
		url += "?wait=" + wait.String()
	}
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, err
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("GET %s: %w: %s", url, err, body)
	}
	st.Leader = st.Leader && resp.StatusCode == http.StatusOK
	return st, nil
}

// WaitReady polls the sidecar's /readyz until it answers 200 (start-up only).
func (s *Sidecar) WaitReady(ctx context.Context) error { return s.WaitProbe(ctx, "/readyz") }

// WaitProbe polls a probe path until it answers 200 (start-up only).
func (s *Sidecar) WaitProbe(ctx context.Context, path string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.ProbeURL+path, nil)
		resp, err := s.client().Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", s.Identity, ctx.Err())
		case <-s.exited:
			b, _ := os.ReadFile(s.LogPath)
			return fmt.Errorf("%s exited during start-up: %s", s.Identity, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FirstLeader long-polls every sidecar in ss and returns the first one that
// leads, and when it was seen.
func FirstLeader(ctx context.Context, ss []*Sidecar) (*Sidecar, Status, time.Time, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type hit struct {
		s  *Sidecar
		st Status
		at time.Time
	}
	hits := make(chan hit, len(ss))
	for _, s := range ss {
		go func() {
			for ctx.Err() == nil {
				st, err := s.Leader(ctx, 30*time.Second)
				if err == nil && st.Leader {
					hits <- hit{s, st, time.Now()}
					return
				}
				if err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
		}()
	}
	select {
	case h := <-hits:
		return h.s, h.st, h.at, nil
	case <-ctx.Done():
		return nil, Status{}, time.Time{}, ctx.Err()
	}
}
