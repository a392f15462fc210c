package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
)

// An application that holds a lock for the life of a stream: the sidecar
// renews it, the first event carries the fence to pass to the store, and a
// lost event, or the end of the stream, means stop at once. Leaving the
// function closes the stream, which releases the lock within milliseconds;
// so does the death of the process.
func Example_streamLock() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // closes the stream: the sidecar releases the lock
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://127.0.0.1:4040/locks/stock-42/stream?wait=5s&fair=true", nil)
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
		Fence uint64 `json:"fence"`
	}
	if err := json.Unmarshal(events.Bytes(), &acquired); err != nil {
		log.Fatal(err)
	}
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
		log.Print("lock lost: stop")
	default:
		fmt.Println("write with fence", acquired.Fence)
	}
}
