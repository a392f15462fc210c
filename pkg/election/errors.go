package election

import (
	"errors"
	"fmt"

	"github.com/baton-dev/baton/pkg/lease"
)

var (
	// ErrInvalidConfig marks every configuration error; the error is a
	// *ConfigError that names the field and the rule.
	ErrInvalidConfig = errors.New("election: invalid config")
	// ErrLost is what a Lease's Renew returns (wrapped) when the lease is
	// gone or someone else's: the elector steps down at once.
	ErrLost = lease.ErrLost
	// ErrAlreadyRunning is returned by a second concurrent Run.
	ErrAlreadyRunning = errors.New("election: already running")
	// ErrNotRunning is returned by Resign when Run is not running.
	ErrNotRunning = errors.New("election: not running")
	// ErrInvalidHoldOff is returned by Resign for a hold-off below 0 or
	// above MaxHoldOff.
	ErrInvalidHoldOff = errors.New("election: invalid hold-off")
	// ErrWedged is what Healthy returns (wrapped) when the election loop
	// still holds a term well past its deadline.
	ErrWedged = errors.New("election: loop wedged")
)

// ConfigError is one invalid configuration field.
type ConfigError struct {
	// Field is the Config field's name, such as "RenewDeadline".
	Field string
	// Rule says what the value must be.
	Rule string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("election: invalid config: %s %s", e.Field, e.Rule)
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }
