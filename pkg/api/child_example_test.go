package api_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/baton-dev/baton/pkg/api"
)

// runningJob is a stand-in for the sidecar's adapter of exec mode's
// supervisor: a child that runs after one restart.
type runningJob struct{}

func (runningJob) ChildState() api.ChildState {
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return api.ChildState{
		Running: true, PID: 4242, Started: started, Restarts: 1,
		LastExit: &api.ChildExit{Code: 3, At: started.Add(-time.Second)},
	}
}

func (runningJob) Changed() <-chan struct{} { return nil }

// In exec mode the sidecar passes its supervisor, adapted to ChildSource,
// and every status body carries the child. The status code stays about
// leadership: this replica follows, so 503.
func ExampleOptions_child() {
	h, err := api.NewHandler(followerElector{}, api.Options{Child: runningJob{}})
	if err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://localhost/leader", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 503 {"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs","child":{"running":true,"pid":4242,"started":"2025-01-02T03:04:05Z","stopping":false,"restarts":1,"last_exit":{"code":3,"at":"2025-01-02T03:04:04Z","by_baton":false}}}
}
