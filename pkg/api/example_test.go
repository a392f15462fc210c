package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
)

// A batch job that must run on one replica at a time, next to a baton
// sidecar. It long-polls the sidecar until this replica leads, then works in
// units no longer than the term is known to stay valid, asking again before
// each unit. Every write carries the term's fence, so the store can refuse a
// replica that lost leadership without noticing (a long pause, a partition).
func Example_batchJob() {
	sidecar, stopSidecar := runSidecar("batch-job", "replica-1") // in a pod: http://127.0.0.1:8080
	defer stopSidecar()
	store := httptest.NewServer(&fencedStore{})
	defer store.Close()

	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	// The client's timeout must exceed the long-poll's wait.
	client := &http.Client{Timeout: 40 * time.Second}

	batches := []string{"2025-01-01", "2025-01-02", "2025-01-03"}
	for len(batches) > 0 && ctx.Err() == nil {
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
		err = processBatch(unit, client, store.URL, batches[0], st.Fence)
		cancel()
		if err != nil {
			log.Printf("batch %s under fence %d: %v", batches[0], st.Fence, err)
			continue
		}
		fmt.Println("stored batch", batches[0])
		batches = batches[1:]
	}
	// Output:
	// stored batch 2025-01-01
	// stored batch 2025-01-02
	// stored batch 2025-01-03
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

// processBatch writes one batch to the store, with the term's fence.
func processBatch(ctx context.Context, client *http.Client, store, batch string, fence uint64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, store+"/batches",
		strings.NewReader(`{"batch":"`+batch+`"}`))
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

// fencedStore is the store's side: it keeps the highest fence it has
// accepted and answers 409 to a write that carries a lower one.
type fencedStore struct {
	mu      sync.Mutex
	highest uint64
}

func (s *fencedStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fence, err := strconv.ParseUint(r.Header.Get("X-Fencing-Token"), 10, 64)
	if err != nil {
		http.Error(w, "X-Fencing-Token is required", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence < s.highest {
		http.Error(w, "stale fence", http.StatusConflict)
		return
	}
	s.highest = fence
	w.WriteHeader(http.StatusCreated)
}

// runSidecar runs in this process what baton's sidecar container runs: an
// elector on Redis, with the API in front of it. It returns the API's URL
// and a function that stops both.
func runSidecar(lockName, identity string) (url string, stop func()) {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	lock, err := redislock.New(client, lockName, redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	e, err := election.New(election.Config{
		Locker:   redislock.NewLocker(lock),
		Name:     lockName,
		Identity: identity,
		// A store that has never seen the lock holds its first term back
		// for one LeaseTTL (default 15s).
		LeaseTTL: 2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := api.NewHandler(e, api.Options{})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = e.Run(ctx)
	}()
	return srv.URL, func() {
		srv.Close()
		cancel()
		<-ran
		_ = client.Close()
	}
}
