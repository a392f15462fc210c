//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// batonBin and shopBin are the binaries TestMain builds from this checkout.
var batonBin, shopBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := sidecartest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	batonBin = bin
	shopBin = filepath.Join(filepath.Dir(bin), "shop")
	if out, err := exec.Command("go", "build", "-o", shopBin, "github.com/baton-dev/baton/examples/shop").CombinedOutput(); err != nil {
		cleanup()
		fmt.Fprintf(os.Stderr, "go build examples/shop: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// TestShop runs the demo's three rounds, smaller (200 purchases at a stock
// of 20), with real sidecars, shop processes and redis-server: with the
// lock exactly the stock is sold and nothing is lost; without it the
// oversell shows; with the fair lock, also no waiter is served out of its
// arrival order; and the store refuses the write of a holder whose lease
// ran out.
func TestShop(t *testing.T) {
	redistest.Binary(t) // skips without redis-server (fails under CI)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	rep, err := run(ctx, config{
		baton: batonBin, shop: shopBin, servers: 3, purchases: 200, stock: 20,
		wait: 30 * time.Second, lease: 5 * time.Second, delay: 2 * time.Millisecond, gap: 50 * time.Millisecond,
		out: logWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.rounds) != len(rounds) {
		t.Fatalf("%d rounds ran, want %d", len(rep.rounds), len(rounds))
	}
	if rep.fence == nil {
		t.Fatal("the fencing scene did not run")
	}
	for _, f := range rep.failures() {
		t.Error(f)
	}
	for _, title := range []string{"with the lock", "fair lock (FIFO)"} {
		r := rep.round(title)
		if r.final.Writes != 20 || r.final.Rejected != 0 {
			t.Errorf("%s: the store saw %d writes and %d stale fences, want 20 and 0", title, r.final.Writes, r.final.Rejected)
		}
		if len(r.orders) != 3 {
			t.Errorf("%s: %d order reports, want one per web server", title, len(r.orders))
		}
	}
	// The FIFO check compares the grants with the arrival order in Redis
	// (MONITOR). The order the web servers sent their requests in is only
	// reported: requests fired at once may all be sent within the order
	// gap on a fast machine, leaving no pair to compare.
	pairs := 0
	for _, a := range rep.round("fair lock (FIFO)").arrival {
		pairs += a.pairs
	}
	if pairs == 0 {
		t.Error("fair round: no pair of grants was checked against the waiters' arrival order in Redis")
	}
	if u := rep.round("without the lock").unseen(); u <= 0 {
		t.Errorf("without the lock: %d sales the stock never saw; the oversell should show", u)
	}
}

// logWriter sends the narration to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
