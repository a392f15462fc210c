package api_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
)

func TestHostGuard(t *testing.T) {
	srv := serve(t, newFake(leader()), api.Options{AllowedHosts: []string{"pod.example", "10.0.0.5:4040", "[fd00::1]"}})
	tests := []struct {
		host    string
		allowed bool
	}{
		{"localhost", true},
		{"localhost:4040", true},
		{"LocalHost:4040", true},
		{"127.0.0.1", true},
		{"127.0.0.1:4040", true},
		{"127.1.2.3:80", true},
		{"[::1]:4040", true},
		{"[::1]", true},
		{"::1", true},
		{"[::ffff:127.0.0.1]:4040", true},
		{"pod.example", true},
		{"POD.Example:4040", true},
		{"10.0.0.5", true},
		{"10.0.0.5:9999", true}, // the port is not compared
		{"[fd00::1]:4040", true},
		{"[fd00:0::1]:4040", true},

		{"attacker.example", false},
		{"attacker.example:4040", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.nip.io:4040", false},
		{"sub.pod.example", false},
		{"localhost.", false},
		{"10.0.0.6:4040", false},
		{"0.0.0.0:4040", false},
		{"[::]:4040", false},
		{"[localhost]:4040", false},
		{"localhost:http", false},
		{"[fd00::2]:4040", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, srv.URL+"/leader", "", "", http.Header{"Host": {tt.host}})
			switch {
			case tt.allowed && resp.StatusCode != http.StatusOK:
				t.Errorf("Host %s: status = %d (body %s); want 200", tt.host, resp.StatusCode, body)
			case !tt.allowed && resp.StatusCode != http.StatusMisdirectedRequest:
				t.Errorf("Host %s: status = %d (body %s); want 421", tt.host, resp.StatusCode, body)
			case !tt.allowed && !strings.Contains(body, `"error":"Host \"`+jsonEscape(tt.host)):
				t.Errorf("Host %s: body = %s; want an error naming the Host", tt.host, body)
			}
		})
	}
}

// A page on attacker.example whose name the attacker re-points at
// 127.0.0.1 sends its requests as same-origin: only the Host tells.
func TestDNSRebindingCannotResign(t *testing.T) {
	f := newFake(leader())
	f.released = true
	srv := serve(t, f, api.Options{})
	rebound := http.Header{"Host": {"attacker.example:4040"}, "Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://attacker.example:4040"}}
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, "/leader/release"},
		{http.MethodGet, "/leader"},
		{http.MethodGet, "/leader?wait=1s"},
		{http.MethodGet, "/leader/watch"},
		{http.MethodPut, "/leader/release"},
		{http.MethodGet, "/nowhere"},
	} {
		resp, body := do(t, r.method, srv.URL+r.path, "", "", rebound)
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.HasPrefix(body, `{"error":"`) {
			t.Errorf("%s %s: %d %s; want 421 with a JSON error", r.method, r.path, resp.StatusCode, body)
		}
	}
	select {
	case d := <-f.resigns:
		t.Fatalf("Resign(%v) called through a rebound name", d)
	default:
	}
}

// An HTTP/1.0 request may come without a Host: it names nothing, so it is
// refused.
func TestMissingHostRefused(t *testing.T) {
	srv := serve(t, newFake(leader()), api.Options{})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(guard)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("GET /leader HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("status = %d; want 421", resp.StatusCode)
	}
}
