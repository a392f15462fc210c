package supervisor

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/names"
	"github.com/baton-dev/baton/pkg/election"
)

// Defaults for Options fields left zero.
const (
	// DefaultKillGrace is the time between SIGTERM and SIGKILL; it fits
	// election's default margin, with a second to spare (see the package
	// documentation).
	DefaultKillGrace = 4 * time.Second
	// DefaultRestartBackoff is the first wait between quick exits.
	DefaultRestartBackoff = time.Second
	// DefaultMaxRestartBackoff caps the wait between quick exits; a child
	// that ran at least this long resets the backoff.
	DefaultMaxRestartBackoff = time.Minute
)

// The environment variables every child gets. Options.Env must not set
// them, and any that baton itself inherited are replaced.
const (
	EnvLock      = "BATON_LOCK"       // the lock's name
	EnvIdentity  = "BATON_IDENTITY"   // this replica's identity
	EnvFence     = "BATON_FENCE"      // the term's fencing token, decimal
	EnvTermStart = "BATON_TERM_START" // the term's start, RFC 3339 with nanoseconds, UTC
	EnvAPIURL    = "BATON_API_URL"    // the sidecar's API, when Options.APIURL is set
)

// OnExit says what a child's own exit does: an exit that baton did not
// cause by stopping it.
type OnExit string

// The policies.
const (
	// OnExitExit ends the job: the supervisor reports the exit through
	// Options.OnChildExit and never starts a child again, and baton is
	// expected to release the lock and exit with Exit.Status.ExitCode().
	OnExitExit OnExit = "exit"
	// OnExitRestart starts the child again within the same term, after a
	// backoff (see Options.RestartBackoff). The term goes on.
	OnExitRestart OnExit = "restart"
	// OnExitRecampaign ends the term's work: the supervisor reports the
	// exit through Options.OnChildExit, and baton is expected to resign
	// with Exit.HoldOff, campaign again, and run the child again on its
	// next win.
	OnExitRecampaign OnExit = "recampaign"
)

// ParseOnExit parses a policy's name, for flags.
func ParseOnExit(s string) (OnExit, error) {
	switch p := OnExit(s); p {
	case OnExitExit, OnExitRestart, OnExitRecampaign:
		return p, nil
	}
	return "", invalid("OnExit", "must be %q, %q or %q (got %q)", OnExitExit, OnExitRestart, OnExitRecampaign, s)
}

// Options configures a Supervisor. Zero values take the documented
// defaults; New rejects the rest of what cannot work.
type Options struct {
	// Command is the program and its arguments. Required. Command[0] is
	// looked up on PATH by New (unless it contains a slash), so that a
	// missing program fails at start-up rather than at the first term.
	Command []string
	// Env holds extra "KEY=VALUE" entries, added to the environment that
	// baton inherited. Baton's own BATON_* variables (its configuration,
	// which may hold the Redis password) are never passed on; an entry here
	// may set other BATON_* names, but not the five that baton sets (EnvLock
	// and the others). Default: none.
	Env []string
	// Stdin, Stdout and Stderr are the child's standard streams. An
	// *os.File (such as os.Stdout) is handed to the child as is, which is
	// how the sidecar passes its own streams through; any other reader or
	// writer is copied through a pipe. Default (nil): the null device.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Lock is the lock's name, passed to the child as BATON_LOCK. Required:
	// 1 to 128 characters from A-Z a-z 0-9 . _ -, like election's Name.
	Lock string
	// Identity is this replica's identity, passed as BATON_IDENTITY.
	// Required, by election.ValidateIdentity's rule.
	Identity string
	// APIURL is the sidecar's API base URL, passed as BATON_API_URL, for a
	// child that asks whether it still leads. Optional; when set, an
	// absolute http or https URL.
	APIURL string

	// KillGrace is how long a child has between SIGTERM to its process
	// group and SIGKILL to it. Default 4s (see DefaultKillGrace for what it
	// must fit in); it must be greater than 0.
	KillGrace time.Duration
	// OnExit is the policy for a child's own exit. Default OnExitExit.
	OnExit OnExit
	// RestartBackoff and MaxRestartBackoff pace quick exits in a row under
	// OnExitRestart and OnExitRecampaign (see the package documentation).
	// Defaults 1s and 1m; RestartBackoff at most MaxRestartBackoff.
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration

	// OnChildExit is called when a child's own exit ends a term's work
	// (OnExitExit, OnExitRecampaign), on Lead's goroutine with Lead's
	// context, just before Lead returns. It must not block for long, nor
	// call Stop, which waits for Lead. Optional.
	OnChildExit func(leaderCtx context.Context, ex Exit)

	// Guard, when set, starts a guard process with each child, which kills
	// the child's group by itself when the term's validity plus KillGrace
	// passes without a renewal, or when baton dies. Linux only. Default:
	// none.
	Guard *Guard

	// Logger receives a line per start, exit and stop. Default: a logger
	// that discards.
	Logger *slog.Logger
	// Recorder receives metrics. Default: none.
	Recorder Recorder
	// Clock times KillGrace, the restart backoff and the stop durations,
	// and stamps State and ExitStatus; tests inject a fake one. Default:
	// the elector's default clock (CLOCK_BOOTTIME on Linux).
	Clock clock.Clock
}

// withDefaults checks o, fills in its defaults, and resolves the program.
func (o Options) withDefaults() (Options, string, error) {
	if len(o.Command) == 0 || o.Command[0] == "" {
		return o, "", invalid("Command", "is required: the program and its arguments")
	}
	for i, a := range o.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return o, "", invalid("Command", "must not contain NUL bytes (argument %d)", i)
		}
	}
	path, err := exec.LookPath(o.Command[0])
	if err != nil {
		return o, "", invalidBecause(err, "Command", "names no executable program (%q)", o.Command[0])
	}
	o.Command = append([]string(nil), o.Command...)

	reserved := map[string]bool{EnvLock: true, EnvIdentity: true, EnvFence: true, EnvTermStart: true, EnvAPIURL: true}
	for i, kv := range o.Env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || k == "":
			return o, "", invalid("Env", "entries must be KEY=VALUE with a non-empty KEY (entry %d: %q)", i, kv)
		case strings.IndexByte(kv, 0) >= 0:
			return o, "", invalid("Env", "must not contain NUL bytes (entry %d)", i)
		case reserved[k]:
			return o, "", invalid("Env", "must not set %s, which baton sets for every term", k)
		}
	}
	o.Env = append([]string(nil), o.Env...)

	if err := names.Validate(o.Lock); err != nil {
		return o, "", invalidBecause(err, "Lock", "must be 1 to %d characters from A-Z a-z 0-9 . _ - (got %q)", names.MaxLen, o.Lock)
	}
	if err := election.ValidateIdentity(o.Identity); err != nil {
		return o, "", invalidBecause(err, "Identity", "must be a valid election identity")
	}
	if o.APIURL != "" {
		u, err := url.Parse(o.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, "", invalid("APIURL", "must be an absolute http or https URL (got %q)", o.APIURL)
		}
	}

	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"KillGrace", &o.KillGrace, DefaultKillGrace},
		{"RestartBackoff", &o.RestartBackoff, DefaultRestartBackoff},
		{"MaxRestartBackoff", &o.MaxRestartBackoff, DefaultMaxRestartBackoff},
	} {
		switch {
		case *f.v < 0:
			return o, "", invalid(f.name, "must be greater than 0 (got %v)", *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if o.RestartBackoff > o.MaxRestartBackoff {
		return o, "", invalid("RestartBackoff", "must be at most {MaxRestartBackoff} (got %v > %v)", o.RestartBackoff, o.MaxRestartBackoff)
	}

	if o.OnExit == "" {
		o.OnExit = OnExitExit
	}
	if _, err := ParseOnExit(string(o.OnExit)); err != nil {
		return o, "", err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Recorder == nil {
		o.Recorder = nopRecorder{}
	}
	if o.Clock == nil {
		o.Clock = clocks.Real{}
	}
	return o, path, nil
}
