package api

import (
	"errors"
	"fmt"

	"github.com/baton-dev/baton/pkg/field"
)

var (
	// ErrInvalidOptions marks every error of NewHandler's Options and of
	// NewServer's ServerOptions. It wraps a *field.Error that names the
	// field and the rule, as in "api: invalid options: MaxWait must not be
	// negative (got -1s)".
	ErrInvalidOptions = errors.New("api: invalid options")
	// ErrNilElector is NewHandler's error for a nil Elector.
	ErrNilElector = errors.New("api: nil Elector")
)

// invalid is the error of an options rule: ErrInvalidOptions wrapping the
// *field.Error.
func invalid(name, format string, args ...any) error {
	return invalidField(field.Invalid(name, format, args...))
}

// invalidField wraps err, a *field.Error, in ErrInvalidOptions.
func invalidField(err error) error {
	return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
}
