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
	if why := Check(name); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, why)
	}
	return nil
}

// Check is Validate's reason, or "" for a valid name.
func Check(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > MaxLen:
		return fmt.Sprintf("%d characters, at most %d allowed", len(name), MaxLen)
	case !rule.MatchString(name):
		return fmt.Sprintf("%q may only contain A-Z a-z 0-9 . _ -", name)
	}
	return ""
}
