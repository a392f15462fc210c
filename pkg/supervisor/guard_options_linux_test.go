package supervisor

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/field"
)

type stubLeadership struct{}

func (stubLeadership) Status() election.Status  { return election.Status{} }
func (stubLeadership) Changed() <-chan struct{} { return nil }

func TestNewRejectsBadGuard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		guard Guard
		field string
		is    error
	}{
		{"no command", Guard{Leadership: stubLeadership{}}, "Guard.Command", nil},
		{"no leadership", Guard{Command: []string{"sh"}}, "Guard.Leadership", nil},
		{"program not found", Guard{Command: []string{"baton-no-such-guard"}, Leadership: stubLeadership{}}, "Guard.Command", exec.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.guard
			_, err := New(Options{Command: []string{"sh"}, Lock: "job", Identity: "replica-1", Guard: &g})
			var fe *field.Error
			if !errors.Is(err, ErrInvalidOptions) || !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("New: %v, want ErrInvalidOptions and a *field.Error for %s", err, tc.field)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("New: %v, want it to wrap %v", err, tc.is)
			}
		})
	}
}
