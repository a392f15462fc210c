package locks

import (
	"github.com/baton-dev/baton/internal/lockcore"
)

// Hooks for the external tests (package locks_test), which also drive the
// engine in internal/lockcore directly.

// MutexOf is the Mutex on the engine's lock l.
func MutexOf(l *lockcore.Lock, fair bool) *Mutex {
	return &Mutex{core: l, fair: fair, reentry: reentryKeyOf(l)}
}

// NewSemaphoreCore is NewSemaphore with the engine's options.
func NewSemaphoreCore(client lockcore.Client, name string, permits int, opts lockcore.SemaphoreOptions) (*Semaphore, error) {
	s, err := lockcore.NewSemaphore(client, name, permits, opts)
	if err != nil {
		return nil, err
	}
	return &Semaphore{core: s}, nil
}

// SemCore is the engine's semaphore under s, for its keys.
func SemCore(s *Semaphore) *lockcore.Semaphore { return s.core }
