package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/metrics"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// execConfig is what `baton run` adds to the sidecar's flags.
type execConfig struct {
	// Command is what follows "--": the job, run only while leading.
	Command   []string
	KillGrace time.Duration
	OnExit    string
}

// addExecFlags registers the flags of `baton run`. --kill-grace has no
// static default: it follows the timings (see defaultKillGrace).
func (x *execConfig) addExecFlags(fs *flag.FlagSet) {
	fs.DurationVar(&x.KillGrace, "kill-grace", 0,
		"time between SIGTERM and SIGKILL to the job's process group when leadership ends; at most the smaller of lease-ttl - renew-deadline and --release-timeout, less a slack of a quarter of that (at most 1s) for SIGKILL and the reap (default: that maximum, at most 4s; 4s with the default timings)")
	fs.StringVar(&x.OnExit, "on-exit", string(supervisor.OnExitExit),
		"when the job exits while leading: exit (release, and exit with its status), restart (again in the same term, with a backoff) or recampaign (release, and run it again on the next win)")
}

// maxStopSlack caps the slack that a job's stop keeps beyond --kill-grace.
const maxStopSlack = time.Second

// stopBudget is the time a job's stop must fit in: the elector's margin
// lease-ttl - renew-deadline after a deadline step-down (the lease may then
// expire in Redis), and --release-timeout after a graceful one (the lock is
// then released anyway).
func (c *config) stopBudget() time.Duration {
	return min(c.LeaseTTL-c.RenewDeadline, c.ReleaseTimeout)
}

// stopSlack is what a stop takes beyond --kill-grace: SIGKILL, the reap,
// the group's drain and a step-down timer that fires late, a few
// milliseconds on a busy machine. A quarter of the budget, at most
// maxStopSlack.
func stopSlack(budget time.Duration) time.Duration {
	return min(maxStopSlack, budget/4)
}

// maxKillGrace is the longest --kill-grace that leaves the stop its slack.
func (c *config) maxKillGrace() time.Duration {
	b := c.stopBudget()
	return b - stopSlack(b)
}

// defaultKillGrace is --kill-grace when it is not set: the longest that
// fits, at most supervisor.DefaultKillGrace. With the default timings (5s
// margin and release timeout) that is DefaultKillGrace itself; any valid
// --lease-ttl alone gets a grace that fits.
func (c *config) defaultKillGrace() time.Duration {
	return min(supervisor.DefaultKillGrace, c.maxKillGrace())
}

// splitCommand splits `baton run` arguments at the first "--".
func splitCommand(args []string) (flags, command []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}

// validateExec checks the exec flags against the timings: the job must be
// dead, SIGKILL included, before the lease can expire after a deadline
// step-down, and before the elector's release bound after a graceful one.
func (c *config) validateExec() error {
	if len(c.Exec.Command) == 0 {
		return fmt.Errorf("%w: baton run needs the job's command after --, e.g. baton run --lock nightly -- ./report.sh", errUsage)
	}
	return c.checkRules(execRules)
}

// execRules are the rules of the exec flags.
var execRules = []rule{
	{"--on-exit", func(c *config) string {
		_, err := supervisor.ParseOnExit(c.Exec.OnExit)
		return when(err != nil, "must be exit, restart or recampaign (got %q)", c.Exec.OnExit)
	}},
	{"--kill-grace", func(c *config) string {
		g, maxGrace := c.Exec.KillGrace, c.maxKillGrace()
		return when(g <= 0 || g > maxGrace, "must be greater than 0 and at most %v (got %v): the job's stop must fit in the smaller of --lease-ttl - --renew-deadline (%v) and --release-timeout (%v), less a slack of a quarter of that, at most %v, for SIGKILL, the reap and a late step-down timer, so that the job is dead before another replica can lead",
			maxGrace, g, c.LeaseTTL-c.RenewDeadline, c.ReleaseTimeout, maxStopSlack)
	}},
}

// execRun is exec mode's part of the sidecar: the supervisor, and what the
// child's exit means for the process.
type execRun struct {
	sup *supervisor.Supervisor
	log *slog.Logger
	// elector is the sidecar's, once built.
	elector func() *election.Elector

	mu sync.Mutex
	// stop ends the election; set by run before the election starts.
	stop context.CancelFunc
	// exitCode is the child's status once it ended the process.
	exitCode *int
	// wasRunning says whether a child ran when the first signal came.
	wasRunning bool
}

// newExecRun builds the supervisor of cfg.Exec. resign is the elector's, for
// the recampaign policy.
func newExecRun(cfg *config, apiURL string, elector func() *election.Elector, m *metrics.Exec, log *slog.Logger) (*execRun, error) {
	policy, _ := supervisor.ParseOnExit(cfg.Exec.OnExit) // validated
	x := &execRun{log: log, elector: elector}
	sup, err := supervisor.New(supervisor.Options{
		Command:   cfg.Exec.Command,
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Lock:      cfg.Lock,
		Identity:  cfg.Identity,
		APIURL:    apiURL,
		KillGrace: cfg.Exec.KillGrace,
		OnExit:    policy,
		Guard:     execGuard(elector),
		OnChildExit: func(ctx context.Context, ex supervisor.Exit) {
			switch ex.Policy {
			case supervisor.OnExitRecampaign:
				// ctx is the term's: Resign returns once the term has
				// ended, and the lock goes once the child's group is gone.
				if _, err := elector().Resign(ctx, ex.HoldOff); err != nil {
					log.Error("resign after the job exited failed", "err", err)
				}
			case supervisor.OnExitExit:
				code := ex.Status.ExitCode()
				x.mu.Lock()
				x.exitCode = &code
				stop := x.stop
				x.mu.Unlock()
				log.Info("job exited while leading; releasing and exiting with its status", "status", code)
				if stop != nil {
					stop()
				}
			}
		},
		Logger:   log,
		Recorder: execRecorder{m},
	})
	if err != nil {
		return nil, usageError("supervisor", err)
	}
	x.sup = sup
	return x, nil
}

// setStop hands over the function that ends the election.
func (x *execRun) setStop(stop context.CancelFunc) {
	x.mu.Lock()
	x.stop = stop
	x.mu.Unlock()
}

// stoppedAfter returns a channel that is closed once trigger is closed and
// then the job has stopped for good: the elector has stepped down (so the
// job hears of it after the status flipped), and Supervisor.Stop has
// returned, with no child left and none to start. That is when the elector
// releases its lease, and the application's locks, which the job may hold,
// are released alongside. Like the elector's wait for the job, it waits at
// most timeout after trigger.
func (x *execRun) stoppedAfter(trigger <-chan struct{}, timeout time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-trigger
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		awaitStepDown(ctx, x.elector())
		if err := x.sup.Stop(ctx); err != nil {
			x.log.Warn("the job did not stop within the release timeout; releasing the application's locks anyway", "err", err)
		}
	}()
	return done
}

// awaitStepDown returns once e does not lead, or when ctx ends.
func awaitStepDown(ctx context.Context, e *election.Elector) {
	for {
		changed := e.Changed()
		if !e.IsLeader() {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// signalled notes, at the first SIGTERM, whether a child was running: its
// status then becomes the process's.
func (x *execRun) signalled() {
	x.mu.Lock()
	x.wasRunning = x.sup.State().Running
	x.mu.Unlock()
}

// exitStatus is the process's exit code after the election ended: the
// child's status when its exit ended the process or a signal stopped it,
// otherwise 0.
func (x *execRun) exitStatus() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.exitCode != nil {
		return *x.exitCode
	}
	if last := x.sup.State().LastExit; x.wasRunning && last != nil {
		return last.ExitCode()
	}
	return exitOK
}

// execRecorder adapts metrics.Exec to supervisor.Recorder.
type execRecorder struct{ m *metrics.Exec }

func (r execRecorder) ChildStarted()                       { r.m.ChildStarted() }
func (r execRecorder) ChildExited(s supervisor.ExitStatus) { r.m.ChildExited(s.ExitCode()) }
func (r execRecorder) GroupKilled()                        { r.m.GroupKilled() }
func (r execRecorder) Stopped(d time.Duration)             { r.m.ChildStopped(d) }
