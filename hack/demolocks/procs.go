package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// shopProc is one process of the shop binary (a store, web server or
// proxy).
type shopProc struct {
	name string
	URL  string // base URL it serves
	cmd  *exec.Cmd
	done chan struct{}
}

// startShop runs `shop <role> args...` with its output in <dir>/<name>.log
// and returns once it says where it listens.
func startShop(ctx context.Context, bin, dir, name, role string, args ...string) (*shopProc, error) {
	logf, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{role}, args...)...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &shopProc{name: name, cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for first := true; sc.Scan(); first = false {
			if first {
				listening <- sc.Text()
			}
			fmt.Fprintln(logf, sc.Text())
		}
		_, _ = io.Copy(logf, stdout)
		_ = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case line := <-listening:
		url, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("%s: unexpected first line %q", name, line)
		}
		p.URL = url
		return p, nil
	case <-p.done:
		b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		return nil, fmt.Errorf("%s exited at start: %s", name, strings.TrimSpace(string(b)))
	case <-ctx.Done():
		p.stop()
		return nil, fmt.Errorf("%s did not start: %w", name, ctx.Err())
	}
}

// stop sends SIGTERM, and SIGKILL after 5 s.
func (p *shopProc) stop() {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
