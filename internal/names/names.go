// Package names holds the rule of lock names and key prefixes, shared by
// the lease, the application locks, the elector and the supervisor.
package names

import (
	"errors"
	"fmt"
	"regexp"
)

// MaxLen is the longest lock name or prefix accepted.
const MaxLen = 128

// ErrInvalid marks a name that breaks the rule.
var ErrInvalid = errors.New("invalid name")

// rule is the charset of lock names and prefixes: it keeps keys readable,
// and it excludes braces so that the hash tag stays baton's.
var rule = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Validate checks a lock name or key prefix: 1 to MaxLen characters from
// A-Z a-z 0-9 . _ -. The error wraps ErrInvalid.
func Validate(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: must not be empty", ErrInvalid)
	case len(name) > MaxLen:
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalid, len(name), MaxLen)
	case !rule.MatchString(name):
		return fmt.Errorf("%w: %q may only contain A-Z a-z 0-9 . _ -", ErrInvalid, name)
	}
	return nil
}
