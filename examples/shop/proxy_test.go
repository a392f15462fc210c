package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestRoundRobin: request n reaches backend n mod 3, with its path and
// query intact.
func TestRoundRobin(t *testing.T) {
	var urls []*url.URL
	for _, name := range []string{"a", "b", "c"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name+" "+r.Method+" "+r.URL.RequestURI())
		}))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		urls = append(urls, u)
	}
	proxy := httptest.NewServer(newRoundRobin(urls))
	t.Cleanup(proxy.Close)
	for i, want := range []string{"a", "b", "c", "a", "b", "c", "a"} {
		resp, err := http.Post(proxy.URL+"/buy?product=widget&lock=none", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if got := string(body); got != want+" POST /buy?product=widget&lock=none" {
			t.Errorf("request %d answered %q; want backend %s with the request intact", i, got, want)
		}
	}
}

func TestProxyFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--backends", "127.0.0.1:8080"},
		{"--backends", "http://127.0.0.1:8080,ftp://x"},
	} {
		if _, _, err := proxyMain(args); err == nil {
			t.Errorf("proxyMain(%q): no error", args)
		}
	}
	if _, addr, err := proxyMain([]string{"--backends", "http://127.0.0.1:1,http://127.0.0.1:2", "--addr", "127.0.0.1:0"}); err != nil || addr != "127.0.0.1:0" {
		t.Errorf("proxyMain with good flags: %q, %v", addr, err)
	}
}
