package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
)

func TestNewHandlerOptions(t *testing.T) {
	tests := []struct {
		name  string
		opts  api.Options
		field string // "" when valid
	}{
		{name: "zero takes defaults", opts: api.Options{}},
		{name: "all set", opts: api.Options{DefaultHoldOff: time.Second, MaxWait: time.Minute, HeartbeatInterval: time.Second}},
		{name: "negative DefaultHoldOff", opts: api.Options{DefaultHoldOff: -time.Second}, field: "DefaultHoldOff"},
		{name: "negative MaxWait", opts: api.Options{MaxWait: -1}, field: "MaxWait"},
		{name: "negative HeartbeatInterval", opts: api.Options{HeartbeatInterval: -time.Minute}, field: "HeartbeatInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := api.NewHandler(newFake(follower()), tt.opts)
			if tt.field == "" {
				if err != nil || h == nil {
					t.Fatalf("NewHandler = %v, %v; want a handler", h, err)
				}
				return
			}
			if !errors.Is(err, api.ErrInvalidOptions) {
				t.Fatalf("NewHandler error = %v; want ErrInvalidOptions", err)
			}
			oe, ok := errors.AsType[*api.OptionsError](err)
			if !ok || oe.Field != tt.field {
				t.Fatalf("NewHandler error = %#v; want an *OptionsError for %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), "negative") {
				t.Errorf("error %q should name the field and the rule", err)
			}
		})
	}
}

func TestNewHandlerNilElector(t *testing.T) {
	if _, err := api.NewHandler(nil, api.Options{}); err == nil {
		t.Fatal("NewHandler(nil) succeeded")
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
		{http.MethodGet, "/", http.StatusNotFound, ""},
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
