package kube

import (
	"errors"
	"fmt"

	"github.com/baton-dev/baton/pkg/field"
)

// ErrInvalidOptions marks every error about invalid arguments of New,
// NewClient and NewMetrics. A bad field wraps a *field.Error that names it
// and the rule; a nil argument is a message alone.
var ErrInvalidOptions = errors.New("kube: invalid options")

// invalid is the error of an options rule: ErrInvalidOptions wrapping the
// *field.Error.
func invalid(name, format string, args ...any) error {
	return invalidField(field.Invalid(name, format, args...))
}

// invalidField wraps err, a *field.Error, in ErrInvalidOptions.
func invalidField(err error) error {
	return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
}
