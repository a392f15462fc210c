// Package field is the error of a setting that breaks a rule: the field it
// names and the rule, as in "RenewDeadline must be less than LeaseTTL (got
// 20s >= 15s)". Every baton package validates its options with it, wrapped
// in its own sentinel ("election: invalid config: ..."), so a program finds
// the field with errors.As and shows it under its own name with Render: the
// sidecar names its flags that way.
//
// A rule names other fields as {Field}, so that Render can rename them too.
// A nil dependency (a client, a registerer) is not a setting; packages
// report it with their sentinel alone.
package field

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched by errors.Is for every *Error.
var ErrInvalid = errors.New("field: invalid value")

// Error is one field that breaks one rule.
type Error struct {
	// Field is the Go name of the setting, such as "RenewDeadline", or a
	// path to it, such as "Guard.Command" or "AllowedHosts[1]".
	Field string
	// Rule says what the value must be, lower case, without a full stop.
	// Other fields appear as {Field}; "{{" is a literal brace. Build it
	// with Invalid when it quotes a value.
	Rule string
	// Err is the cause, if any, such as exec.ErrNotFound.
	Err error
}

// Invalid returns the error of field name breaking the rule format, which
// may name other fields as {Field}. args are formatted as by fmt.Sprintf
// (but not %w, %T or * widths), and braces in them stay as they are; their
// elements are wrapped in place, which keeps go vet's format checks.
func Invalid(name, format string, args ...any) *Error {
	for i, a := range args {
		args[i] = literal{a}
	}
	return &Error{Field: name, Rule: fmt.Sprintf(format, args...)}
}

// Error renders the field and its rule with Go field names.
func (e *Error) Error() string { return e.Render(func(f string) string { return f }) }

// Render renders the field and its rule with the names that name gives
// each field, such as a command line's flags.
func (e *Error) Render(name func(field string) string) string {
	var b strings.Builder
	b.WriteString(name(e.Field) + " ")
	for rule := e.Rule; rule != ""; {
		i := strings.IndexByte(rule, '{')
		j := strings.IndexByte(rule[i+1:], '}')
		switch {
		case i < 0:
			b.WriteString(rule)
			rule = ""
		case strings.HasPrefix(rule[i:], "{{") || j <= 0:
			b.WriteString(rule[:i+1])
			rule = strings.TrimPrefix(rule[i+1:], "{")
		default:
			b.WriteString(rule[:i] + name(rule[i+1:i+1+j]))
			rule = rule[i+2+j:]
		}
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// literal formats an argument of Invalid with its braces escaped.
type literal struct{ v any }

func (l literal) Format(s fmt.State, verb rune) {
	s.Write([]byte(strings.ReplaceAll(fmt.Sprintf(fmt.FormatString(s, verb), l.v), "{", "{{")))
}
