//go:build unix

package lockcore

import (
	"errors"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
)

// Regression: a seen fence past 2^53 was rounded by Lua, and the acquire
// started a quarantine at the rounded value. It is refused now, and
// nothing is written. Only this package can raise seen that far: every
// fence Redis answers with is checked.
func TestSeenFencePast2To53IsRefused(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	l, err := New(c, "job", Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.saw(l.fenceKey, MaxFence+2, 0, false)
	_, err = l.TryAcquire(ctx, "a", time.Minute)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("TryAcquire: %v, want ErrInvalid", err)
	}
	if n := c.Exists(ctx, l.leaseKey, l.fenceKey, l.termKey).Val(); n != 0 {
		t.Errorf("%d keys written", n)
	}
}
