//go:build linux

package supervisor_test

import (
	"context"
	"fmt"
	"log"
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

// redisAddr is the address of the redis-server that TestMain starts for
// the examples.
var redisAddr string

func init() { supervisor.ExampleRedisAddr = &redisAddr }

// Example runs a job only while this replica leads, as
// `baton run -- ./nightly-report --all` does. The job is stopped (SIGTERM,
// then SIGKILL) before the lock is released; when it exits on its own, this
// program releases the lock and exits with the job's status.
func Example() {
	// The first SIGTERM or SIGINT ends the run: the job is stopped, then
	// the lock released. The timeout bounds this example.
	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stopSignals()
	ctx, stopRun := context.WithTimeout(ctx, 10*time.Second)
	defer stopRun()
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	lock, err := redislock.New(client, "nightly-report", redislock.Options{})
	if err != nil {
		log.Fatal(err)
	}

	var exitCode atomic.Int32
	sup, err := supervisor.New(supervisor.Options{
		// The job: ./nightly-report --all, say.
		Command:  []string{"sh", "-c", `echo "report written by $BATON_IDENTITY"; exit 3`},
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Lock:     "nightly-report",
		Identity: "replica-1", // in Kubernetes, the pod's name
		// Within the elector's LeaseTTL-RenewDeadline and ReleaseTimeout.
		KillGrace: 500 * time.Millisecond,
		OnExit:    supervisor.OnExitExit,
		OnChildExit: func(_ context.Context, ex supervisor.Exit) {
			exitCode.Store(int32(ex.Status.ExitCode()))
			stopRun() // the elector steps down and releases once Lead returns
		},
	})
	if err != nil {
		log.Fatal(err) // a *field.Error names the field and the rule
	}
	elector, err := election.New(election.Config{
		Locker:   redislock.NewLocker(lock),
		Name:     "nightly-report",
		Identity: "replica-1",
		// A store that has never seen the lock holds its first term back
		// for one LeaseTTL (default 15s).
		LeaseTTL:         2 * time.Second,
		RenewDeadline:    time.Second,
		OnStartedLeading: sup.Lead,
	})
	if err != nil {
		log.Fatal(err)
	}

	// As a container's entrypoint (PID 1), run supervisor.ReapOrphans too.
	if err := elector.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("job exited with", exitCode.Load()) // os.Exit(int(exitCode.Load()))
	// Output:
	// report written by replica-1
	// job exited with 3
}
