// Command batchjob is a tiny batch worker that runs beside the baton sidecar
// and works only while its sidecar says this replica leads.
//
// It shows the pattern every batch container should follow:
//
//  1. Long-poll GET /leader?wait=30s until it answers 200.
//  2. Work under a context that is cancelled the moment the sidecar's event
//     stream (GET /leader/watch) reports anything but this term, or drops.
//     Before each unit of work, check GET /leader again (it is cheap).
//  3. Pass the fence to every downstream write, so that the downstream
//     system can reject a stale leader: no sidecar can stop a write that is
//     already on the wire.
//  4. On 503, a connection error, or a changed fence, stop and go back to
//     step 1.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// leaderBody is the part of the GET /leader body (and of each
// /leader/watch event) that the job reads. The full body is
// github.com/baton-dev/baton/pkg/api.StatusBody; this program keeps its own
// copy of the four fields because it is meant to be copied into a batch
// container's code base, which should need only the standard library, not
// baton's module and its Redis client. main_test.go checks that the copy
// still matches api.StatusBody.
type leaderBody struct {
	Leader   bool   `json:"leader"`
	Identity string `json:"identity"`
	Holder   string `json:"holder"`
	Fence    uint64 `json:"fence"`
}

func main() {
	url := flag.String("baton", envOr("BATON_URL", "http://127.0.0.1:4040"), "base URL of the sidecar's API")
	unit := flag.Duration("unit", 500*time.Millisecond, "duration of one unit of work")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *unit); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "batchjob:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, base string, unit time.Duration) error {
	client := &http.Client{Timeout: 35 * time.Second}
	for ctx.Err() == nil {
		// 1. Wait until this replica leads.
		st, err := leader(ctx, client, base+"/leader?wait=30s")
		if err != nil || !st.Leader {
			if err != nil {
				fmt.Printf("sidecar unreachable (%v); not working\n", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		fence := st.Fence
		fmt.Printf("leading with fence %d: starting work\n", fence)
		work(ctx, client, base, fence, unit)
	}
	return ctx.Err()
}

// work runs units of work while the term with this fence lasts.
func work(ctx context.Context, client *http.Client, base string, fence uint64, unit time.Duration) {
	termCtx, endTerm := context.WithCancel(ctx)
	defer endTerm()
	go func() {
		defer endTerm()
		watchTerm(termCtx, base, fence)
	}()
	n := 0
	for termCtx.Err() == nil {
		st, err := leader(termCtx, client, base+"/leader")
		if err != nil || !st.Leader || st.Fence != fence {
			break
		}
		n++
		fmt.Printf("unit %d under fence %d\n", n, fence)
		sleep(termCtx, unit) // a real job writes here, passing fence along
	}
	fmt.Printf("no longer leading (fence %d): stopped after %d units\n", fence, n)
}

// watchTerm returns as soon as the event stream shows that the term with
// this fence is over, or the stream ends.
func watchTerm(ctx context.Context, base string, fence uint64) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/leader/watch", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var st leaderBody
		if json.Unmarshal([]byte(data), &st) != nil || !st.Leader || st.Fence != fence {
			return
		}
	}
}

func leader(ctx context.Context, client *http.Client, url string) (leaderBody, error) {
	var st leaderBody
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decode %s: %w", url, err)
	}
	// The status code is the authority: 200 means leader.
	st.Leader = st.Leader && resp.StatusCode == http.StatusOK
	return st, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
