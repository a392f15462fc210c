package main

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary serve the HTTP floor, as the bench binary
// does, when startHTTPFloor runs it under httpFloorEnv.
func TestMain(m *testing.M) {
	serveHTTPFloorIfAsked()
	os.Exit(m.Run())
}

// The HTTP floor answers the sidecar tool's acquire and release as the
// sidecar does, from a process of its own that Stop ends.
func TestHTTPFloor(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	f, err := startHTTPFloor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tool := newSidecarLockTool(f.URL, "x", &http.Client{})
	for range 3 {
		h, _, err := tool.acquire(ctx, 0)
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		if err := h.release(ctx); err != nil {
			t.Fatalf("release: %v", err)
		}
	}
	f.Stop()
	if f.cmd.ProcessState == nil {
		t.Fatal("the floor process was not reaped")
	}
	if _, _, err := tool.acquire(ctx, 0); err == nil {
		t.Fatal("acquire answered after Stop")
	}
}
