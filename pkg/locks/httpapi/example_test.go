package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
	"github.com/baton-dev/baton/pkg/redislock"
)

// An application that holds a lock for the life of a stream: the sidecar
// renews it, the first event carries the fence to pass to the store, and a
// lost event, or the end of the stream, means stop at once. Leaving the
// function closes the stream, which releases the lock within milliseconds;
// so does the death of the process.
func Example_streamLock() {
	sidecar, stopSidecar := runSidecar() // in a pod: http://127.0.0.1:4040
	defer stopSidecar()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel() // closes the stream: the sidecar releases the lock
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		sidecar+"/locks/stock-42/stream?wait=5s&fair=true", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("not acquired: %s", resp.Status) // 409: the wait ran out
	}
	events := bufio.NewScanner(resp.Body)
	if !events.Scan() {
		log.Fatal("stream ended")
	}
	var acquired struct {
		Event string `json:"event"`
		Fence uint64 `json:"fence"`
	}
	if err := json.Unmarshal(events.Bytes(), &acquired); err != nil {
		log.Fatal(err)
	}
	fmt.Println(acquired.Event, "with a fence:", acquired.Fence > 0)
	// Watch the stream while working: any "lost" event, or its end, means
	// the lock is no longer ours.
	lost := make(chan struct{})
	go func() {
		defer close(lost)
		for events.Scan() {
			var ev struct {
				Event string `json:"event"`
			}
			if json.Unmarshal(events.Bytes(), &ev) == nil && ev.Event == "lost" {
				return
			}
		}
	}()
	select {
	case <-lost:
		fmt.Println("lock lost: stop")
	default:
		fmt.Println("writing, with the fence")
	}
	// Output:
	// acquired with a fence: true
	// writing, with the fence
}

// runSidecar serves in this process what baton's sidecar serves: the API,
// with the lock routes on Redis (its election is not run here). It returns
// the API's URL and a function that releases what the API holds and stops
// it.
func runSidecar() (url string, stop func()) {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	backend, err := httpapi.NewRedisLocks(client, httpapi.RedisLocksOptions{Identity: "sidecar-1"})
	if err != nil {
		log.Fatal(err)
	}
	locks, err := httpapi.NewLocks(backend, httpapi.LocksOptions{})
	if err != nil {
		log.Fatal(err)
	}
	lock, err := redislock.New(client, "app", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	e, err := election.New(election.Config{Locker: redislock.NewLocker(lock), Name: "app", Identity: "sidecar-1"})
	if err != nil {
		log.Fatal(err)
	}
	h, err := api.NewHandler(e, api.Options{Routes: []api.Routes{locks}})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	return srv.URL, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = locks.ReleaseAll(ctx)
		srv.Close()
		_ = client.Close()
	}
}
