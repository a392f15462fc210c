package supervisor

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOptions marks every error of New's Options; the error is an
	// *OptionsError that names the field and the rule.
	ErrInvalidOptions = errors.New("supervisor: invalid options")
	// ErrUnsupported is what New returns on a platform without process
	// groups (Windows), and what the Linux-only helpers return elsewhere.
	ErrUnsupported = errors.New("supervisor: exec mode is not supported on this platform")
	// ErrNoChild is what Signal returns when no child is running.
	ErrNoChild = errors.New("supervisor: no child running")
	// ErrInvalidSignal is what Signal returns for a signal that is not a
	// syscall.Signal, or is 0.
	ErrInvalidSignal = errors.New("supervisor: invalid signal")
	// ErrNotReaper is what ReapOrphans returns at once when this process is
	// neither PID 1 nor a child subreaper: orphans are then reparented to
	// some other process, which reaps them, and there is nothing to do.
	ErrNotReaper = errors.New("supervisor: not PID 1 and not a child subreaper")
)

// errStopped is why a child is not started after Stop or Kill.
var errStopped = errors.New("supervisor: stopped")

// OptionsError is one invalid Options field.
type OptionsError struct {
	// Field is the Options field's name, such as "KillGrace".
	Field string
	// Rule says what the value must be.
	Rule string
	// Err is the underlying error, if any (for example exec.ErrNotFound
	// for a Command that is not on PATH).
	Err error
}

func (e *OptionsError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("supervisor: invalid options: %s %s: %v", e.Field, e.Rule, e.Err)
	}
	return fmt.Sprintf("supervisor: invalid options: %s %s", e.Field, e.Rule)
}

// Is makes errors.Is(err, ErrInvalidOptions) true.
func (e *OptionsError) Is(target error) bool { return target == ErrInvalidOptions }

// Unwrap returns the underlying error.
func (e *OptionsError) Unwrap() error { return e.Err }
