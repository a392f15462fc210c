package api

import (
	"errors"
	"fmt"
	"net/http"

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

// invalidOptions returns an ErrInvalidOptions with a message and no
// *field.Error. Only locks_*.go use it still.
func invalidOptions(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
}

// requestError is a request that cannot be served as asked: its code is the
// HTTP status to answer with.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}
