package api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/baton-dev/baton/pkg/api"
)

// pingRoutes serves GET /ping and POST /poke, a route that changes state.
type pingRoutes struct{}

func (pingRoutes) Register(mux *http.ServeMux, stateChanging func(http.HandlerFunc) http.Handler) {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	mux.HandleFunc("GET /ping", ok)
	mux.Handle("POST /poke", stateChanging(ok))
}

// TestRoutesHandler: without an election, the handler serves its routes
// only, under the Host guard, the cross-origin check and the token.
func TestRoutesHandler(t *testing.T) {
	h, err := api.NewRoutesHandler(api.Options{Routes: []api.Routes{pingRoutes{}}, Token: "s3cret", AllowedHosts: []string{"pod.example"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	bearer := http.Header{"Authorization": {"Bearer s3cret"}}
	for _, tc := range []struct {
		name, method, path string
		hdr                http.Header
		host               string
		code               int
	}{
		{"read", "GET", "/ping", nil, "", http.StatusNoContent},
		{"configured host", "GET", "/ping", nil, "pod.example:4040", http.StatusNoContent},
		{"foreign host", "GET", "/ping", nil, "attacker.example", http.StatusMisdirectedRequest},
		{"change with the token", "POST", "/poke", bearer, "", http.StatusNoContent},
		{"change without the token", "POST", "/poke", nil, "", http.StatusUnauthorized},
		{"cross-origin change", "POST", "/poke", http.Header{"Authorization": {"Bearer s3cret"}, "Sec-Fetch-Site": {"cross-site"}}, "", http.StatusForbidden},
		{"no election: no /leader", "GET", "/leader", nil, "", http.StatusNotFound},
		{"unknown path", "GET", "/other", nil, "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.hdr.Clone()
			if tc.host != "" {
				if hdr == nil {
					hdr = http.Header{}
				}
				hdr.Set("Host", tc.host)
			}
			resp, body := do(t, tc.method, srv.URL+tc.path, "", "", hdr)
			if resp.StatusCode != tc.code {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.code)
			}
		})
	}
}

func TestRoutesHandlerOptions(t *testing.T) {
	for _, opts := range []api.Options{{MaxWatchers: -1}, {AllowedHosts: []string{"0.0.0.0"}}, {Token: "a b"}} {
		if _, err := api.NewRoutesHandler(opts); !errors.Is(err, api.ErrInvalidOptions) {
			t.Errorf("NewRoutesHandler(%+v) error = %v, want ErrInvalidOptions", opts, err)
		}
	}
}
