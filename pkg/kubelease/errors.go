package kubelease

import (
	"errors"
	"fmt"

	"github.com/baton-dev/baton/pkg/field"
)

var (
	// ErrInvalid is wrapped by the errors of bad options and arguments,
	// with a *field.Error naming the field.
	ErrInvalid = errors.New("kubelease: invalid argument")
	// ErrForeign is returned when the Lease's baton.dev/fence annotation
	// holds a value that baton did not write: it is not overwritten.
	ErrForeign = errors.New("kubelease: foreign value")
	// ErrNotHeld is what Release returns when the Lease is no longer this
	// term's: nothing was written.
	ErrNotHeld = errors.New("kubelease: lease not held")
)

func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalid, field.Invalid(name, format, args...))
}
