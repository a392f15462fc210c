package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/field"
)

func TestNewHandlerOptions(t *testing.T) {
	tests := []struct {
		name string
		opts api.Options
		want string // the whole error message; "" when valid
	}{
		{name: "zero takes defaults", opts: api.Options{}},
		{name: "all set", opts: api.Options{
			DefaultHoldOff: time.Second, MaxWait: time.Minute, HeartbeatInterval: time.Second, MaxWatchers: 3,
			AllowedHosts: []string{"pod.example", "Sidecar.Example:4040", "10.0.0.5", "10.0.0.6:80", "[fd00::1]:4040", "fd00::2"},
			Token:        "abc-DEF_012.~+/==",
		}},
		{name: "hold-off at the maximum", opts: api.Options{DefaultHoldOff: election.MaxHoldOff}},
		{name: "negative DefaultHoldOff", opts: api.Options{DefaultHoldOff: -time.Second},
			want: "api: invalid options: DefaultHoldOff must not be negative (got -1s)"},
		{name: "DefaultHoldOff above election.MaxHoldOff", opts: api.Options{DefaultHoldOff: election.MaxHoldOff + time.Second},
			want: "api: invalid options: DefaultHoldOff must be at most 1h0m0s (election.MaxHoldOff) (got 1h0m1s)"},
		{name: "negative MaxWait", opts: api.Options{MaxWait: -1},
			want: "api: invalid options: MaxWait must not be negative (got -1ns)"},
		{name: "negative HeartbeatInterval", opts: api.Options{HeartbeatInterval: -time.Minute},
			want: "api: invalid options: HeartbeatInterval must not be negative (got -1m0s)"},
		{name: "negative MaxWatchers", opts: api.Options{MaxWatchers: -1},
			want: "api: invalid options: MaxWatchers must not be negative (got -1)"},
		{name: "unspecified address in AllowedHosts", opts: api.Options{AllowedHosts: []string{"pod.example", "0.0.0.0:4040"}},
			want: `api: invalid options: AllowedHosts[1] must name a host: "0.0.0.0:4040" is the unspecified address, which no client sends; list the names clients use`},
		{name: "unspecified IPv6 address in AllowedHosts", opts: api.Options{AllowedHosts: []string{"[::]:4040"}},
			want: `api: invalid options: AllowedHosts[0] must name a host: "[::]:4040" is the unspecified address, which no client sends; list the names clients use`},
		{name: "port only in AllowedHosts", opts: api.Options{AllowedHosts: []string{":4040"}},
			want: `api: invalid options: AllowedHosts[0] must be a host name or IP address, optionally with a port (got ":4040")`},
		{name: "URL in AllowedHosts", opts: api.Options{AllowedHosts: []string{"http://pod.example"}},
			want: `api: invalid options: AllowedHosts[0] must be a host name or IP address, optionally with a port (got "http://pod.example")`},
		{name: "bad port in AllowedHosts", opts: api.Options{AllowedHosts: []string{"pod.example:http"}},
			want: `api: invalid options: AllowedHosts[0] must be a host name or IP address, optionally with a port (got "pod.example:http")`},
		{name: "token with a newline", opts: api.Options{Token: "s3cret\n"},
			want: `api: invalid options: Token must hold only A-Z a-z 0-9 - . _ ~ + / and trailing '=' (character 6 is '\n'; a trailing newline from a file must be trimmed)`},
		{name: "token with a space", opts: api.Options{Token: "s3 cret"},
			want: `api: invalid options: Token must hold only A-Z a-z 0-9 - . _ ~ + / and trailing '=' (character 2 is ' '; a trailing newline from a file must be trimmed)`},
		{name: "token of padding", opts: api.Options{Token: "=="},
			want: "api: invalid options: Token must not be only '=' padding"},
		{name: "token too long", opts: api.Options{Token: strings.Repeat("a", api.MaxTokenLen+1)},
			want: "api: invalid options: Token must be at most 1024 characters (got 1025)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := api.NewHandler(newFake(follower()), tt.opts)
			if tt.want == "" {
				if err != nil || h == nil {
					t.Fatalf("NewHandler = %v, %v; want a handler", h, err)
				}
				return
			}
			if !errors.Is(err, api.ErrInvalidOptions) || !errors.As(err, new(*field.Error)) {
				t.Fatalf("NewHandler error = %v; want ErrInvalidOptions and a *field.Error", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error =\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestNewHandlerNilElector(t *testing.T) {
	if _, err := api.NewHandler(nil, api.Options{}); !errors.Is(err, api.ErrNilElector) {
		t.Fatalf("NewHandler(nil) error = %v; want ErrNilElector", err)
	}
}

func TestRouting(t *testing.T) {
	srv := serve(t, newFake(follower()), api.Options{})
	tests := []struct {
		method, path string
		code         int
		allow        string
	}{
		{http.MethodPost, "/leader", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodDelete, "/leader", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodPost, "/leader/watch", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/leader/release", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPut, "/leader/release", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "/x", http.StatusNotFound, ""},
		{http.MethodGet, "/leaders", http.StatusNotFound, ""},
		{http.MethodGet, "/leader/", http.StatusNotFound, ""},
		{http.MethodGet, "/leader/other", http.StatusNotFound, ""},
		{http.MethodPost, "/healthz", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := do(t, tt.method, srv.URL+tt.path, "", "", nil)
			if resp.StatusCode != tt.code {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.code, body)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q; want %q", got, tt.allow)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if !strings.HasPrefix(body, `{"error":"`) {
				t.Errorf("body = %s; want a JSON error", body)
			}
		})
	}
}
