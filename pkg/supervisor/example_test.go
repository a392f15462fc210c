//go:build unix

package supervisor_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// Example runs `./nightly-report --all` only while this replica leads, as
// `baton run -- ./nightly-report --all` does. The job is stopped (SIGTERM,
// then SIGKILL) before the lock is released; when it exits on its own, this
// program releases the lock and exits with the job's status.
func Example() {
	ctx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	lock, err := redislock.New(client, "nightly-report", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}

	var elector *election.Elector
	var exitCode atomic.Int32
	sup, err := supervisor.New(supervisor.Options{
		Command:   []string{"./nightly-report", "--all"},
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Lock:      "nightly-report",
		Identity:  os.Getenv("POD_NAME"),
		APIURL:    "http://127.0.0.1:8080",
		KillGrace: 4 * time.Second, // within LeaseTTL-RenewDeadline and ReleaseTimeout
		OnExit:    supervisor.OnExitExit,
		OnChildExit: func(leaderCtx context.Context, ex supervisor.Exit) {
			switch ex.Policy {
			case supervisor.OnExitRecampaign:
				// With the term's own context, Resign returns as soon as the
				// term has ended; the lock is released when Lead returns.
				_, _ = elector.Resign(leaderCtx, ex.HoldOff)
			case supervisor.OnExitExit:
				exitCode.Store(int32(ex.Status.ExitCode()))
				stopRun() // the elector steps down and releases once Lead returns
			}
		},
		Logger: slog.Default(),
	})
	if err != nil {
		log.Fatal(err) // a *field.Error names the field and the rule
	}
	elector, err = election.New(election.Config{
		Locker:           election.RedisLocker(lock),
		Name:             "nightly-report",
		Identity:         os.Getenv("POD_NAME"),
		OnStartedLeading: sup.Lead,
		Logger:           slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}

	// As a container's entrypoint, baton is PID 1 and inherits orphans.
	go func() { _ = supervisor.ReapOrphans(ctx, slog.Default()) }()

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		terms := 0
		for sig := range signals {
			switch sig {
			case syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2:
				_ = sup.Signal(sig)
			default:
				if terms++; terms == 1 {
					stopRun() // graceful: the job is stopped, then the lock released
				} else {
					sup.Kill() // impatient: SIGKILL the job's group now
					os.Exit(1)
				}
			}
		}
	}()

	if err := elector.Run(ctx); err != nil {
		log.Fatal(err)
	}
	os.Exit(int(exitCode.Load()))
}
