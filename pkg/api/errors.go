package api

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOptions marks every error of NewHandler's Options and of
	// NewServer's ServerOptions; the message names the field and the rule,
	// as in "api: invalid options: MaxWait must not be negative (got -1s)".
	ErrInvalidOptions = errors.New("api: invalid options")
	// ErrNilElector is NewHandler's error for a nil Elector.
	ErrNilElector = errors.New("api: nil Elector")
)

// invalidOptions returns an ErrInvalidOptions that says what is wrong.
func invalidOptions(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
}
