package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestWeb returns a web server in front of a real in-process store
// holding stock of "widget". Its sidecar URL leads nowhere: these tests
// cover the parts that need no lock (the end-to-end test in hack/demolocks
// runs it against real sidecars).
func newTestWeb(t *testing.T, stock int64) (*web, *store) {
	t.Helper()
	st := newStore()
	if err := st.restock("widget", stock); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(st.handler())
	t.Cleanup(srv.Close)
	return newWeb(webConfig{name: "web-t", baton: "http://127.0.0.1:1", store: srv.URL, product: "widget", wait: time.Second, lease: time.Second}), st
}

func TestBuyParams(t *testing.T) {
	w, _ := newTestWeb(t, 1)
	cases := []struct {
		query          string
		product        string
		unlocked, fair bool
		bad            string
	}{
		{query: "", product: "widget"},
		{query: "product=gadget&lock=none", product: "gadget", unlocked: true},
		{query: "lock=sidecar&fair=true", product: "widget", fair: true},
		{query: "fair=false", product: "widget"},
		{query: "fair=yes", bad: "fair"},
		{query: "lock=redis", bad: "lock"},
		{query: "product=a/b", bad: "product"},
		{query: "product=a&product=b", bad: "product"},
		{query: "color=red", bad: "color"},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.query)
		product, unlocked, fair, err := w.buyParams(q)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%q: err %v; want one naming %s", tc.query, err, tc.bad)
			}
			continue
		}
		if err != nil || product != tc.product || unlocked != tc.unlocked || fair != tc.fair {
			t.Errorf("%q: %q %v %v %v", tc.query, product, unlocked, fair, err)
		}
	}
}

// TestSellUnlocked: without a lock, one purchase after another sells the
// stock down to 0 and then answers sold out.
func TestSellUnlocked(t *testing.T) {
	w, st := newTestWeb(t, 2)
	for i, want := range []buyBody{
		{Outcome: outcomeSold, Stock: 1},
		{Outcome: outcomeSold, Stock: 0},
		{Outcome: outcomeSoldOut, Stock: 0},
	} {
		if got := w.sell(t.Context(), "widget", 0); got != want {
			t.Errorf("purchase %d: %+v, want %+v", i, got, want)
		}
	}
	if p, _ := st.read("widget", 0); p.Writes != 2 {
		t.Errorf("store saw %d writes, want 2", p.Writes)
	}
}

// TestSellStaleFence: a purchase under a fence below the store's mark is
// refused, at the read, and nothing is written.
func TestSellStaleFence(t *testing.T) {
	w, st := newTestWeb(t, 5)
	if _, err := st.read("widget", 10); err != nil {
		t.Fatal(err)
	}
	if got := w.sell(t.Context(), "widget", 9); got.Outcome != outcomeStaleFence || got.Fence != 9 {
		t.Fatalf("stale purchase: %+v", got)
	}
	if p, _ := st.read("widget", 0); p.Stock != 5 || p.Writes != 0 || p.Rejected != 1 {
		t.Fatalf("store after a stale purchase: %+v", p)
	}
}

// TestBuySidecarDown: when the sidecar cannot be reached, POST /buy answers
// 502 with outcome error, and nothing is sold.
func TestBuySidecarDown(t *testing.T) {
	w, st := newTestWeb(t, 5)
	srv := httptest.NewServer(w.handler())
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/buy", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), `"outcome":"error"`) {
		t.Fatalf("POST /buy with no sidecar: %d %s", resp.StatusCode, string(b))
	}
	if p, _ := st.read("widget", 0); p.Stock != 5 {
		t.Fatalf("stock %d after a failed purchase", p.Stock)
	}
}

func TestWebFlags(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"--store", "http://127.0.0.1:1", "--lock", "maybe"},
		{"--store", "http://127.0.0.1:1", "--lease", "0s"},
		{"--store", "http://127.0.0.1:1", "--product", "a b"},
		{"--store", "http://127.0.0.1:1", "--name", ""},
		{"--store", "http://127.0.0.1:1", "--baton-token-file", "/nonexistent/token"},
		{"--store", "http://127.0.0.1:1", "--baton-token-file", empty},
	} {
		if _, _, err := webMain(args); err == nil {
			t.Errorf("webMain(%q): no error", args)
		}
	}
}

// TestSidecarToken: with a token file, every lock call carries the
// sidecar API's bearer token.
func TestSidecarToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		http.Error(w, `{"error":"busy"}`, http.StatusConflict)
	}))
	t.Cleanup(api.Close)
	h, _, err := webMain([]string{"--store", "http://127.0.0.1:1", "--baton", api.URL, "--baton-token-file", file, "--wait", "0s"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/buy", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST /buy with the lock busy: %d, want 503", resp.StatusCode)
	}
	if a := <-got; a != "Bearer s3cret" {
		t.Errorf("Authorization %q, want the token from the file", a)
	}
}
