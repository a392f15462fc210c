package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestStore(t *testing.T) (*store, *storeClient) {
	t.Helper()
	s := newStore()
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	return s, newStoreClient(srv.URL)
}

// TestStoreFences walks one product through fenced and unfenced reads and
// writes, over HTTP: each step's outcome and the counters after it.
func TestStoreFences(t *testing.T) {
	s, c := newTestStore(t)
	if err := s.restock("widget", 10); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		read      bool
		stock     int64
		fence     uint64
		stale     bool
		wantStock int64
		wantFence uint64
		rejected  int64
	}{
		{name: "unfenced write on a fresh product", stock: 9, fence: 0, wantStock: 9},
		{name: "first fenced write", stock: 8, fence: 5, wantStock: 8, wantFence: 5},
		{name: "same fence again", stock: 7, fence: 5, wantStock: 7, wantFence: 5},
		{name: "higher fence", stock: 6, fence: 7, wantStock: 6, wantFence: 7},
		{name: "stale write", stock: 1, fence: 6, stale: true, wantStock: 6, wantFence: 7, rejected: 1},
		{name: "unfenced write after fenced ones", stock: 1, fence: 0, stale: true, wantStock: 6, wantFence: 7, rejected: 2},
		{name: "fenced read raises the mark", read: true, fence: 9, wantStock: 6, wantFence: 9, rejected: 2},
		{name: "write of the holder the read overtook", stock: 5, fence: 8, stale: true, wantStock: 6, wantFence: 9, rejected: 3},
		{name: "stale fenced read", read: true, fence: 8, stale: true, wantStock: 6, wantFence: 9, rejected: 4},
		{name: "unfenced read", read: true, fence: 0, wantStock: 6, wantFence: 9, rejected: 4},
		{name: "write of the new holder", stock: 5, fence: 9, wantStock: 5, wantFence: 9, rejected: 4},
	}
	for _, st := range steps {
		var err error
		if st.read {
			_, err = c.read(t.Context(), "widget", st.fence)
		} else {
			_, err = c.write(t.Context(), "widget", st.stock, st.fence)
		}
		if got := errors.Is(err, errStaleFence); got != st.stale || (err != nil && !st.stale) {
			t.Fatalf("%s: err %v, want stale %v", st.name, err, st.stale)
		}
		p, err := c.read(t.Context(), "widget", 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.Stock != st.wantStock || p.Fence != st.wantFence || p.Rejected != st.rejected {
			t.Fatalf("%s: product %+v, want stock %d, fence %d, rejected %d", st.name, p, st.wantStock, st.wantFence, st.rejected)
		}
	}
	// A restock zeroes the counters but keeps the mark: fences only grow.
	if err := s.restock("widget", 100); err != nil {
		t.Fatal(err)
	}
	p, _ := c.read(t.Context(), "widget", 0)
	if p.Stock != 100 || p.Fence != 9 || p.Writes != 0 || p.Rejected != 0 {
		t.Fatalf("after restock: %+v", p)
	}
	if _, err := c.write(t.Context(), "widget", 99, 8); !errors.Is(err, errStaleFence) {
		t.Fatalf("stale write after restock: %v", err)
	}
}

// TestStoreBadInput: every bad request gets a clear 4xx and changes
// nothing.
func TestStoreBadInput(t *testing.T) {
	s, c := newTestStore(t)
	if err := s.restock("widget", 10); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"PUT", "/products/widget/stock", `{"stock":-1,"fence":1}`, http.StatusBadRequest, "negative"},
		{"PUT", "/products/widget/stock", `{"stock":"9"}`, http.StatusBadRequest, "body"},
		{"PUT", "/products/widget/stock", `{"stock":9,"color":"red"}`, http.StatusBadRequest, "body"},
		{"PUT", "/products/gadget/stock", `{"stock":9}`, http.StatusNotFound, "no such product"},
		{"GET", "/products/gadget", "", http.StatusNotFound, "no such product"},
		{"GET", "/products/widget?fence=x", "", http.StatusBadRequest, "fence"},
		{"PUT", "/products/widget", `{}`, http.StatusBadRequest, "stock"},
		{"PUT", "/products/widget", `{"stock":-5}`, http.StatusBadRequest, "negative"},
		{"PUT", "/products/a%20b", `{"stock":5}`, http.StatusBadRequest, "product name"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequestWithContext(t.Context(), tc.method, c.base+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %s %s: %d %s; want %d mentioning %q", tc.method, tc.path, tc.body, resp.StatusCode, string(b), tc.status, tc.want)
		}
	}
	if p, _ := c.read(t.Context(), "widget", 0); p.Stock != 10 || p.Fence != 0 || p.Writes != 0 {
		t.Fatalf("bad requests changed the product: %+v", p)
	}
}
