package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/api"
)

// A batch job that must run on one replica at a time, next to a baton
// sidecar. It long-polls the sidecar until this replica leads, then works in
// units no longer than the term is known to stay valid, asking again before
// each unit. Every write carries the term's fence, so the store can refuse a
// replica that lost leadership without noticing (a long pause, a partition).
func Example_batchJob() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	const sidecar = "http://127.0.0.1:8080"
	// The client's timeout must exceed the long-poll's wait.
	client := &http.Client{Timeout: 40 * time.Second}

	for ctx.Err() == nil {
		st, err := leaderStatus(ctx, client, sidecar+"/leader?wait=30s")
		switch {
		case err != nil:
			log.Printf("ask sidecar: %v", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		case !st.Leader:
			// 503: the wait ended with another replica leading. Ask again.
			continue
		}
		// 200: lead for at most RemainingMS more without a renewal. A
		// leader's next long-poll answers at once, so the job keeps working
		// while the answer is 200.
		unit, cancel := context.WithTimeout(ctx, time.Duration(st.RemainingMS)*time.Millisecond)
		err = processBatch(unit, client, st.Fence)
		cancel()
		if err != nil {
			log.Printf("batch under fence %d: %v", st.Fence, err)
		}
	}
}

// leaderStatus asks the sidecar; both 200 and 503 carry a StatusBody,
// unless the 503 has a Retry-After.
func leaderStatus(ctx context.Context, client *http.Client, url string) (api.StatusBody, error) {
	var st api.StatusBody
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return st, fmt.Errorf("sidecar answered %s", resp.Status)
	}
	if resp.Header.Get("Retry-After") != "" {
		// A 503 with Retry-After is not "not leader": too many clients
		// wait at once, and the body is an ErrorBody.
		return st, fmt.Errorf("sidecar busy: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// processBatch does one unit of work. The store keeps the highest fence it
// has accepted and refuses writes that carry a lower one.
func processBatch(ctx context.Context, client *http.Client, fence uint64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://store.internal/batches",
		strings.NewReader(`{"batch":"next"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Fencing-Token", strconv.FormatUint(fence, 10))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusConflict {
		return fmt.Errorf("store refused fence %d: a newer leader has written", fence)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("store answered %s", resp.Status)
	}
	return nil
}
