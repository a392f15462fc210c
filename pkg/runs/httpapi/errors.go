package runsapi

import (
	"errors"
	"fmt"

	"github.com/baton-dev/baton/pkg/field"
)

// ErrInvalidOptions marks every error of NewRedisRuns's Options; it wraps
// a *field.Error that names the field and the rule.
var ErrInvalidOptions = errors.New("runsapi: invalid options")

// invalid is the error of an options rule: ErrInvalidOptions wrapping the
// *field.Error.
func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalidOptions, field.Invalid(name, format, args...))
}
