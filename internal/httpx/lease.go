package httpx

import (
	"time"

	"github.com/baton-dev/baton/pkg/field"
)

// Leases are the lease options of an API: the bounds of ?lease= and the
// leases taken when it is not given.
type Leases struct {
	Min, Max      time.Duration
	Default       time.Duration
	StreamDefault time.Duration
}

// Check checks the lease options, named MinLease, MaxLease, DefaultLease
// and StreamLease: whole milliseconds, Min ≤ Max, the defaults between them.
func (l Leases) Check() *field.Error {
	named := []struct {
		name string
		v    time.Duration
	}{{"MinLease", l.Min}, {"MaxLease", l.Max}, {"DefaultLease", l.Default}, {"StreamLease", l.StreamDefault}}
	for _, d := range named {
		if d.v%time.Millisecond != 0 {
			return field.Invalid(d.name, "must be a whole number of milliseconds (got %v)", d.v)
		}
	}
	if l.Min > l.Max {
		return field.Invalid("MinLease", "must not exceed {MaxLease} (got %v > %v)", l.Min, l.Max)
	}
	for _, d := range named[2:] {
		if d.v < l.Min || d.v > l.Max {
			return field.Invalid(d.name, "must lie between {MinLease} and {MaxLease}, %v and %v (got %v)", l.Min, l.Max, d.v)
		}
	}
	return nil
}

// Parse parses a lease parameter: a whole number of milliseconds between
// Min and Max.
func (l Leases) Parse(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, BadRequest("lease: %q is not a duration such as 30s or 1m", s)
	case d < l.Min || d > l.Max:
		return 0, BadRequest("lease: must lie between %v and %v, got %v", l.Min, l.Max, d)
	case d%time.Millisecond != 0:
		return 0, BadRequest("lease: must be a whole number of milliseconds, got %v", d)
	}
	return d, nil
}

// ValidToken reports whether s is 1 to max characters A-Z a-z 0-9 - _, as
// the APIs' owner tokens and run ids are.
func ValidToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
