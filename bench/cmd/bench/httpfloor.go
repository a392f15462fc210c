package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// The HTTP floor is what any HTTP lock API costs on this machine before it
// does anything: a process of its own, as the sidecar is, answering the
// sidecar's POST /locks/{name} and DELETE /locks/{name} with bodies of the
// same shape, and no Redis behind them. The bench runs it as its own
// binary under httpFloorEnv, so that it needs nothing but itself.
const httpFloorEnv = "BATON_BENCH_HTTP_FLOOR"

// idLockHTTPFloor is the HTTP floor's tool id in the locks step.
const idLockHTTPFloor = "floor-http"

// serveHTTPFloorIfAsked serves the HTTP floor and exits when the bench was
// started as one: it listens on a free loopback port, prints the address
// on its first line of stdout, and serves until its stdin closes (the
// parent ended) or it is killed.
func serveHTTPFloorIfAsked() {
	if os.Getenv(httpFloorEnv) != "1" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench http floor: %v\n", err)
		os.Exit(1)
	}
	lock, _ := json.Marshal(httpapi.LockBody{Token: strings.Repeat("0", 32), Fence: 1764650000000000, LeaseMS: 30000})
	released, _ := json.Marshal(httpapi.LockReleasedBody{Released: true})
	mux := http.NewServeMux()
	answer := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("POST /locks/{name}", answer(lock))
	mux.HandleFunc("DELETE /locks/{name}", answer(released))
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}()
	err = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	fmt.Fprintf(os.Stderr, "bench http floor: %v\n", err)
	os.Exit(1)
}

// httpFloor is a running HTTP floor process.
type httpFloor struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // held open: the floor exits when it closes
	URL   string
}

// startHTTPFloor starts the HTTP floor and waits for its address.
func startHTTPFloor(ctx context.Context) (*httpFloor, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("http floor: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), httpFloorEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("http floor: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("http floor: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("http floor: %w", err)
	}
	f := &httpFloor{cmd: cmd, stdin: stdin}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			f.Stop()
			return nil, errors.New("http floor: no address on its stdout")
		}
		f.URL = "http://" + a
		return f, nil
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	f.Stop()
	return nil, errors.New("http floor: no address within 10s")
}

// PID is the floor's process id, for its CPU time.
func (f *httpFloor) PID() int { return f.cmd.Process.Pid }

// Stop kills the floor and reaps it.
func (f *httpFloor) Stop() {
	_ = f.stdin.Close()
	_ = f.cmd.Process.Kill()
	_ = f.cmd.Wait()
}
