// Package sidecartest starts baton sidecar processes on free loopback ports
// and talks to their HTTP API, for the end-to-end tests, the demo and the
// benchmarks (the bench module may import it: its path lies under
// github.com/baton-dev/baton).
package sidecartest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
)

// Status is the body of GET /leader: the fields of api.StatusBody that the
// tests read (cmd/sidecar checks that they stay in step), without the
// child.
type Status struct {
	Leader      bool   `json:"leader"`
	Identity    string `json:"identity"`
	Holder      string `json:"holder"`
	Fence       uint64 `json:"fence,omitempty"`
	RemainingMS int64  `json:"remaining_ms"`
	TermStart   string `json:"term_start,omitempty"`
	Lock        string `json:"lock"`
	HoldOffMS   int64  `json:"hold_off_ms,omitempty"`
	LastError   string `json:"last_error,omitempty"`
}

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

// Launch starts the baton binary bin as identity on lock, against the Redis
// at redisAddr (none when "": extra then names the backend), with its API and probes on free loopback ports, plus the
// extra flags. Its output is appended to <dir>/<identity>.log, so a
// restarted identity keeps the log of the one before. The caller must call
// Stop or Kill.
func Launch(bin, dir, identity, redisAddr, lock string, extra ...string) (*Sidecar, error) {
	if bin == "" || dir == "" || identity == "" || lock == "" {
		return nil, errors.New("sidecartest: Launch needs a binary, a directory, an identity and a lock")
	}
	apiPort, err := redistest.FreeLoopbackPort()
	if err != nil {
		return nil, err
	}
	probePort, err := redistest.FreeLoopbackPort()
	if err != nil {
		return nil, err
	}
	apiAddr := "127.0.0.1:" + strconv.Itoa(apiPort)
	args := []string{"--lock", lock, "--identity", identity}
	if redisAddr != "" {
		args = append(args, "--redis-addr", redisAddr)
	}
	args = append(append(args, "--api-addr", apiAddr, "--probe-addr", "127.0.0.1:"+strconv.Itoa(probePort)), extra...)
	logPath := filepath.Join(dir, identity+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sidecartest: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("sidecartest: start %s: %w", bin, err)
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

func (s *Sidecar) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

// PID of the sidecar.
func (s *Sidecar) PID() int { return s.Cmd.Process.Pid }

// Exited is closed when the process has exited.
func (s *Sidecar) Exited() <-chan struct{} { return s.exited }

// Signal sends sig to the sidecar.
func (s *Sidecar) Signal(sig syscall.Signal) error { return s.Cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to d for the exit, then kills.
func (s *Sidecar) Stop(d time.Duration) {
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(d):
		s.Kill()
	}
}

// Kill sends SIGKILL and waits for the exit.
func (s *Sidecar) Kill() {
	_ = s.Cmd.Process.Kill()
	<-s.exited
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
		return fmt.Errorf("sidecartest: POST /leader/release: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Leader calls GET /leader, long-polling for up to wait when wait > 0.
// Leader in the answer is true only with status 200, the API's authority.
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
		return st, fmt.Errorf("sidecartest: GET %s: %w: %s", url, err, body)
	}
	st.Leader = st.Leader && resp.StatusCode == http.StatusOK
	return st, nil
}

// WaitReady polls the sidecar's /readyz until it answers 200 (start-up only).
func (s *Sidecar) WaitReady(ctx context.Context) error { return s.WaitProbe(ctx, "/readyz") }

// WaitProbe polls a probe path until it answers 200 (start-up only).
func (s *Sidecar) WaitProbe(ctx context.Context, path string) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.ProbeURL+path, nil)
		if err != nil {
			return err
		}
		if resp, err := s.client().Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sidecartest: %s%s not 200: %w", s.Identity, path, ctx.Err())
		case <-s.exited:
			b, _ := os.ReadFile(s.LogPath)
			return fmt.Errorf("sidecartest: %s exited during start-up: %s", s.Identity, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FirstLeader long-polls every sidecar in ss and returns the first one that
// leads, its status, and when it was seen.
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
