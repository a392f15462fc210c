package httpapi

import (
	"errors"
	"fmt"
)

// ErrInvalidOptions marks every error of NewLocks's Options and
// NewRedisLocks's RedisLocksOptions; the message names the field and the rule.
var ErrInvalidOptions = errors.New("httpapi: invalid options")

// invalidOptions returns an ErrInvalidOptions that says what is wrong.
func invalidOptions(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
}
