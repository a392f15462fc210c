//go:build unix

package supervisor

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/field"
)

func TestNewRejectsBadOptions(t *testing.T) {
	valid := func() Options {
		return Options{Command: []string{"sh", "-c", "exit 0"}, Lock: "job", Identity: "replica-1"}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		field  string
		is     error
	}{
		{"no command", func(o *Options) { o.Command = nil }, "Command", nil},
		{"empty program", func(o *Options) { o.Command = []string{""} }, "Command", nil},
		{"NUL in an argument", func(o *Options) { o.Command = []string{"sh", "a\x00b"} }, "Command", nil},
		{"program not found", func(o *Options) { o.Command = []string{"baton-no-such-program"} }, "Command", exec.ErrNotFound},
		{"env without =", func(o *Options) { o.Env = []string{"FOO"} }, "Env", nil},
		{"env without key", func(o *Options) { o.Env = []string{"=x"} }, "Env", nil},
		{"env with NUL", func(o *Options) { o.Env = []string{"A=\x00"} }, "Env", nil},
		{"env sets the fence", func(o *Options) { o.Env = []string{EnvFence + "=7"} }, "Env", nil},
		{"no lock", func(o *Options) { o.Lock = "" }, "Lock", nil},
		{"bad lock", func(o *Options) { o.Lock = "a b" }, "Lock", nil},
		{"no identity", func(o *Options) { o.Identity = "" }, "Identity", nil},
		{"bad identity", func(o *Options) { o.Identity = "a b" }, "Identity", nil},
		{"relative API URL", func(o *Options) { o.APIURL = "/leader" }, "APIURL", nil},
		{"API URL scheme", func(o *Options) { o.APIURL = "ftp://127.0.0.1" }, "APIURL", nil},
		{"negative grace", func(o *Options) { o.KillGrace = -time.Second }, "KillGrace", nil},
		{"negative backoff", func(o *Options) { o.RestartBackoff = -time.Second }, "RestartBackoff", nil},
		{"negative max backoff", func(o *Options) { o.MaxRestartBackoff = -time.Second }, "MaxRestartBackoff", nil},
		{"backoff above max", func(o *Options) { o.RestartBackoff, o.MaxRestartBackoff = time.Minute, time.Second }, "RestartBackoff", nil},
		{"unknown policy", func(o *Options) { o.OnExit = "retry" }, "OnExit", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.mutate(&o)
			_, err := New(o)
			var fe *field.Error
			if !errors.Is(err, ErrInvalidOptions) || !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("New: %v, want ErrInvalidOptions and a *field.Error for %s", err, tc.field)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("New: %v, want it to wrap %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), "supervisor: invalid options: "+tc.field) {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

func TestNewFillsInDefaults(t *testing.T) {
	cmd := []string{"sh", "-c", "exit 0"}
	s, err := New(Options{Command: cmd, Lock: "job", Identity: "replica-1"})
	if err != nil {
		t.Fatal(err)
	}
	o := s.Options()
	if o.KillGrace != DefaultKillGrace || o.RestartBackoff != DefaultRestartBackoff ||
		o.MaxRestartBackoff != DefaultMaxRestartBackoff || o.OnExit != OnExitExit ||
		o.Logger == nil || o.Recorder == nil || o.Clock == nil {
		t.Errorf("defaults not filled in: %+v", o)
	}
	cmd[0] = "changed"
	if s.Options().Command[0] != "sh" {
		t.Error("the supervisor shares the caller's Command slice")
	}
}

func TestParseOnExit(t *testing.T) {
	for _, s := range []string{"exit", "restart", "recampaign"} {
		if p, err := ParseOnExit(s); err != nil || string(p) != s {
			t.Errorf("ParseOnExit(%q) = %q, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "Exit", "always"} {
		if _, err := ParseOnExit(s); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("ParseOnExit(%q): %v, want ErrInvalidOptions", s, err)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		s    ExitStatus
		want int
		str  string
	}{
		{ExitStatus{Code: 0}, 0, "exit status 0"},
		{ExitStatus{Code: 42}, 42, "exit status 42"},
		{ExitStatus{Code: -1, Signal: 15}, 143, "killed by signal 15"},
		{ExitStatus{Code: -1, StartErr: exec.ErrNotFound}, 127, "not started"},
		{ExitStatus{Code: -1, StartErr: errors.New("permission denied")}, 126, "not started"},
		{ExitStatus{Code: -1}, 1, "exit status unknown"},
	} {
		if got := tc.s.ExitCode(); got != tc.want {
			t.Errorf("%+v: ExitCode %d, want %d", tc.s, got, tc.want)
		}
		if got := tc.s.String(); !strings.HasPrefix(got, tc.str) {
			t.Errorf("%+v: String %q, want it to start with %q", tc.s, got, tc.str)
		}
	}
}
