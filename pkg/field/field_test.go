package field_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/field"
)

func TestRender(t *testing.T) {
	flag := func(f string) string { return "--" + strings.ToLower(f) }
	tests := []struct {
		name     string
		err      *field.Error
		want     string // Error()
		wantFlag string // Render(flag)
	}{
		{"plain", field.Invalid("LeaseTTL", "must be at least 3ms (got %v)", time.Millisecond),
			"LeaseTTL must be at least 3ms (got 1ms)", "--leasettl must be at least 3ms (got 1ms)"},
		{"other field", field.Invalid("RenewDeadline", "must be less than {LeaseTTL} (got %v >= %v)", 20*time.Second, 15*time.Second),
			"RenewDeadline must be less than LeaseTTL (got 20s >= 15s)", "--renewdeadline must be less than --leasettl (got 20s >= 15s)"},
		{"braces in a value stay", field.Invalid("Name", "must be valid (got %q, %v)", "{LeaseTTL}", "a{b"),
			`Name must be valid (got "{LeaseTTL}", a{b)`, `--name must be valid (got "{LeaseTTL}", a{b)`},
		{"literal brace in the rule", field.Invalid("Env", "must not hold {{ or an unclosed { brace"),
			"Env must not hold { or an unclosed { brace", "--env must not hold { or an unclosed { brace"},
		{"empty braces stay", field.Invalid("Body", "must not be {}"),
			"Body must not be {}", "--body must not be {}"},
		{"width and flags pass through", field.Invalid("N", "is %05d and %-4s|", 42, "ab"),
			"N is 00042 and ab  |", "--n is 00042 and ab  |"},
		{"cause", &field.Error{Field: "Command", Rule: "names no executable program", Err: exec.ErrNotFound},
			"Command names no executable program: executable file not found in $PATH",
			"--command names no executable program: executable file not found in $PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
			if got := tt.err.Render(flag); got != tt.wantFlag {
				t.Errorf("Render = %q; want %q", got, tt.wantFlag)
			}
		})
	}
}

func TestIsAndAs(t *testing.T) {
	errPkg := errors.New("pkg: invalid options")
	err := fmt.Errorf("%w: %w", errPkg, &field.Error{Field: "Command", Rule: "is missing", Err: exec.ErrNotFound})
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Field != "Command" {
		t.Fatalf("errors.As(%v) = %v", err, fe)
	}
	for _, target := range []error{errPkg, field.ErrInvalid, exec.ErrNotFound} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if errors.Is(errPkg, field.ErrInvalid) {
		t.Error("a plain error is field.ErrInvalid")
	}
}

func Example() {
	errInvalidConfig := errors.New("election: invalid config")
	err := fmt.Errorf("%w: %w", errInvalidConfig,
		field.Invalid("RenewDeadline", "must be less than {LeaseTTL} (got %v >= %v)", 20*time.Second, 15*time.Second))
	fmt.Println(err)

	// A command line shows the fields as its flags.
	flags := map[string]string{"RenewDeadline": "--renew-deadline", "LeaseTTL": "--lease-ttl"}
	var fe *field.Error
	if errors.As(err, &fe) {
		fmt.Println(fe.Render(func(f string) string { return flags[f] }))
	}
	fmt.Println(errors.Is(err, field.ErrInvalid))
	// Output:
	// election: invalid config: RenewDeadline must be less than LeaseTTL (got 20s >= 15s)
	// --renew-deadline must be less than --lease-ttl (got 20s >= 15s)
	// true
}
