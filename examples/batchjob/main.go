// Command batchjob is a tiny batch worker that runs beside the baton sidecar
// and works only while its sidecar says this replica leads.
//
// It shows the pattern every batch container should follow:
//
//  1. Long-poll GET /leader?wait=30s until it answers 200.
//  2. Before each unit of work, check GET /leader again (it is cheap), and
//     pass the fence from the body to every downstream write, so that the
//     downstream system can reject a stale leader.
//  3. On 503, a connection error, or a changed fence, stop at once and go
//     back to step 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

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
		// 2. Work in small units, checking before each one.
		for n := 1; ctx.Err() == nil; n++ {
			st, err := leader(ctx, client, base+"/leader")
			if err != nil || !st.Leader || st.Fence != fence {
				fmt.Printf("no longer leading (fence %d): stopped after %d units\n", fence, n-1)
				break
			}
			fmt.Printf("unit %d under fence %d\n", n, fence)
			sleep(ctx, unit)
		}
	}
	return ctx.Err()
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
