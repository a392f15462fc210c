//go:build linux

package harness

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestAcquireRunLock(t *testing.T) {
	old := LockPath
	LockPath = filepath.Join(t.TempDir(), "lock")
	t.Cleanup(func() { LockPath = old })

	release, err := AcquireRunLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A second run waits, and gives up with ErrBusy when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := AcquireRunLock(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("second acquire while held: %v, want ErrBusy", err)
	}
	release()
	again, err := AcquireRunLock(context.Background())
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	again()
}
