package election

import (
	"errors"
	"fmt"

	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/lease"
)

var (
	// ErrInvalidConfig marks every configuration error; it wraps a
	// *field.Error that names the field and the rule.
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

// invalid is the error of a Config rule: ErrInvalidConfig wrapping the
// *field.Error, as in "election: invalid config: LeaseTTL must ...".
func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalidConfig, field.Invalid(name, format, args...))
}
