package api_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
)

// followerElector is a stand-in for *election.Elector that never leads.
type followerElector struct{}

func (followerElector) Status() election.Status {
	return election.Status{Name: "jobs", Identity: "pod-a", Holder: "pod-b", Running: true}
}
func (followerElector) Changed() <-chan struct{} { return nil }
func (followerElector) Resign(context.Context, time.Duration) (bool, error) {
	return false, nil
}

// Serving the API: the handler with its guards, in a server with its
// timeouts. The sidecar passes its elector, the token read from a file, and
// the host of its listen address when that is not loopback.
func ExampleNewServer() {
	h, err := api.NewHandler(followerElector{}, api.Options{
		Token:        "c2VjcmV0",           // required by POST /leader/release
		AllowedHosts: []string{"10.0.0.5"}, // besides localhost and loopback addresses
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := api.NewServer(h, api.ServerOptions{}) // the documented defaults
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	base := "http://" + ln.Addr().String()
	show := func(req *http.Request) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s %s", resp.Status, body)
	}
	get, _ := http.NewRequest(http.MethodGet, base+"/leader", nil)
	show(get)
	rebound, _ := http.NewRequest(http.MethodGet, base+"/leader", nil)
	rebound.Host = "attacker.example"
	show(rebound)
	release, _ := http.NewRequest(http.MethodPost, base+"/leader/release", nil)
	show(release)
	// Output:
	// 503 Service Unavailable {"leader":false,"identity":"pod-a","holder":"pod-b","remaining_ms":0,"lock":"jobs"}
	// 421 Misdirected Request {"error":"Host \"attacker.example\" is not served here: use localhost, a loopback address or a configured host name"}
	// 401 Unauthorized {"error":"this request changes state: it needs an Authorization: Bearer header with the API token"}
}
