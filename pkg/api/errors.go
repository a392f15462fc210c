package api

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrInvalidOptions marks every error of NewHandler's Options; the error is
// an *OptionsError that names the field and the rule.
var ErrInvalidOptions = errors.New("api: invalid options")

// OptionsError is one invalid Options field.
type OptionsError struct {
	// Field is the Options field's name, such as "MaxWait".
	Field string
	// Rule says what the value must be.
	Rule string
}

func (e *OptionsError) Error() string {
	return fmt.Sprintf("api: invalid options: %s %s", e.Field, e.Rule)
}

// Is makes errors.Is(err, ErrInvalidOptions) true.
func (e *OptionsError) Is(target error) bool { return target == ErrInvalidOptions }

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
