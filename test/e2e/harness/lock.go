//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// LockPath is the lock that one run holds from before CleanLeftovers until
// its teardown is done: a State file whose lock is free belongs to a run
// that died (the kernel drops a dead process's flock), one whose lock is
// held to a run still going, which must not be torn down.
var LockPath = filepath.Join(os.TempDir(), "baton-e2e.lock")

// ErrBusy is returned when another run holds the lock past the wait.
var ErrBusy = errors.New("harness: another e2e run is active on this machine")

// AcquireRunLock waits until no other run holds the lock, or ctx ends. The
// returned function releases it.
func AcquireRunLock(ctx context.Context) (release func(), err error) {
	f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("harness: lock: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); _ = f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("harness: lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%w (%s is held): %w", ErrBusy, LockPath, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
