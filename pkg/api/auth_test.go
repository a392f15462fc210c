package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/api"
)

func TestTokenGuardsRelease(t *testing.T) {
	const token = "c2VjcmV0LXRva2Vu="
	tests := []struct {
		name      string
		auth      []string // Authorization header values; none when nil
		code      int
		challenge string // WWW-Authenticate, for 401
	}{
		{name: "right token", auth: []string{"Bearer " + token}, code: 200},
		{name: "scheme is case-insensitive", auth: []string{"bearer " + token}, code: 200},
		{name: "no header", code: 401, challenge: `Bearer realm="baton"`},
		{name: "empty header", auth: []string{""}, code: 401, challenge: `Bearer realm="baton"`},
		{name: "other scheme", auth: []string{"Basic " + token}, code: 401, challenge: `Bearer realm="baton"`},
		{name: "scheme only", auth: []string{"Bearer"}, code: 401, challenge: `Bearer realm="baton"`},
		{name: "wrong token", auth: []string{"Bearer c2VjcmV0LXRva2Vv="}, code: 401, challenge: `Bearer realm="baton", error="invalid_token"`},
		{name: "prefix of the token", auth: []string{"Bearer " + token[:len(token)-1]}, code: 401, challenge: `Bearer realm="baton", error="invalid_token"`},
		{name: "token plus more", auth: []string{"Bearer " + token + "x"}, code: 401, challenge: `Bearer realm="baton", error="invalid_token"`},
		{name: "empty token", auth: []string{"Bearer "}, code: 401, challenge: `Bearer realm="baton"`},
		{name: "spaces around the token", auth: []string{"Bearer   " + token}, code: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(leader())
			srv := serve(t, f, api.Options{Token: token})
			var hdr http.Header
			if tt.auth != nil {
				hdr = http.Header{"Authorization": tt.auth}
			}
			resp, body := do(t, http.MethodPost, srv.URL+"/leader/release", "", "", hdr)
			if resp.StatusCode != tt.code {
				t.Fatalf("status = %d (body %s); want %d", resp.StatusCode, body, tt.code)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q; want %q", got, tt.challenge)
			}
			if strings.Contains(body, token) {
				t.Errorf("body %s shows the token", body)
			}
			select {
			case <-f.resigns:
				if tt.code != 200 {
					t.Error("Resign called without the right token")
				}
			default:
				if tt.code == 200 {
					t.Error("Resign not called")
				}
			}
		})
	}
}

func TestTokenLeavesReadsOpen(t *testing.T) {
	srv := serve(t, newFake(leader()), api.Options{Token: "s3cret"})
	for _, path := range []string{"/leader", "/leader?wait=1s"} {
		if resp, body := do(t, http.MethodGet, srv.URL+path, "", "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token = %d %s; want 200", path, resp.StatusCode, body)
		}
	}
	_, items := stream(t, t.Context(), srv.URL)
	nextEvent(t, items)
}

// Without a token, a release needs none: the other guards still hold.
func TestNoTokenNoAuthorization(t *testing.T) {
	srv := serve(t, newFake(leader()), api.Options{})
	if resp, body := do(t, http.MethodPost, srv.URL+"/leader/release", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("release = %d %s; want 200", resp.StatusCode, body)
	}
}
