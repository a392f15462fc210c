// Package defaults fills in the zero durations of an options struct, the
// rule that pkg/api and pkg/kube share: zero takes the documented default,
// negative is an error.
package defaults

import (
	"time"

	"github.com/baton-dev/baton/pkg/field"
)

// Duration is one duration field of an options struct.
type Duration struct {
	// Name is the field's name, such as "MaxWait".
	Name string
	// Value points at the field.
	Value *time.Duration
	// Default replaces a zero value.
	Default time.Duration
}

// Durations sets each zero field to its default, in order, and stops at the
// first negative one with a *field.Error such as "MaxWait must not be
// negative (got -1s)", which callers wrap in their own sentinel. Fields
// before the negative one are already filled in.
func Durations(fields ...Duration) error {
	for _, f := range fields {
		switch v := *f.Value; {
		case v < 0:
			return field.Invalid(f.Name, "must not be negative (got %v)", v)
		case v == 0:
			*f.Value = f.Default
		}
	}
	return nil
}
