package runsapi_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// A nightly report that every replica of an application schedules at
// 03:00 by itself: each asks its sidecar to claim the night's window, and
// only the one that gets 200 runs the report, under the fence, and then
// completes it. A replica that comes later is told the window succeeded,
// by whom and with which fence.
func Example() {
	sidecar, stop := runSidecar() // in a pod: http://127.0.0.1:4040
	defer stop()

	report := func(replica string) {
		var claim struct {
			State  string `json:"state"`
			RunID  string `json:"run_id"`
			Fence  uint64 `json:"fence"`
			Window string `json:"window"`
		}
		code := post(sidecar+"/runs/nightly-report/claim?window=2026-12-07&lease=5m", &claim)
		if code != http.StatusOK {
			fmt.Printf("%s: not mine: %d %s\n", replica, code, claim.State)
			return
		}
		fmt.Printf("%s: running window %s with a fence: %v\n", replica, claim.Window, claim.Fence > 0)
		// ... the report, writing with the fence; renew before the lease
		// runs out with POST /runs/nightly-report/renew?run_id=...
		code = post(sidecar+"/runs/nightly-report/complete?status=ok&run_id="+claim.RunID, nil)
		fmt.Printf("%s: completed: %d\n", replica, code)
	}
	report("replica-a")
	report("replica-b")
	// Output:
	// replica-a: running window 2026-12-07 with a fence: true
	// replica-a: completed: 200
	// replica-b: not mine: 409 succeeded
}

// post sends an empty POST to url and decodes its JSON answer into v.
func post(url string, v any) int {
	resp, err := http.Post(url, "", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			log.Fatal(err)
		}
	}
	return resp.StatusCode
}

// runSidecar serves in this process what baton's sidecar serves: the API,
// with the run routes on Redis (its election is not run here). It returns
// the API's URL and a function that stops it.
func runSidecar() (url string, stop func()) {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	rs, err := runsapi.NewRedisRuns(client, runsapi.Options{Identity: "sidecar-1"})
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
	h, err := api.NewHandler(e, api.Options{Routes: []api.Routes{rs}})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	return srv.URL, func() {
		srv.Close()
		_ = client.Close()
	}
}
