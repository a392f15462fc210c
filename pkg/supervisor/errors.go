package supervisor

import (
	"errors"
	"fmt"

	"github.com/baton-dev/baton/pkg/field"
)

var (
	// ErrInvalidOptions marks every error of New's Options; it wraps a
	// *field.Error that names the field and the rule.
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

// invalid is the error of an Options rule: ErrInvalidOptions wrapping the
// *field.Error.
func invalid(name, format string, args ...any) error {
	return invalidField(field.Invalid(name, format, args...))
}

// invalidBecause is invalid with a cause, such as exec.ErrNotFound.
func invalidBecause(cause error, name, format string, args ...any) error {
	fe := field.Invalid(name, format, args...)
	fe.Err = cause
	return invalidField(fe)
}

// invalidField wraps fe in ErrInvalidOptions.
func invalidField(fe *field.Error) error {
	return fmt.Errorf("%w: %w", ErrInvalidOptions, fe)
}
