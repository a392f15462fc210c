// Command baton is the leader-election sidecar: it holds a Redis lease for
// one replica of a batch workload and tells the batch container, through a
// local HTTP API, probes and metrics, whether this replica leads.
//
//	baton [flags]                        the sidecar
//	baton run [flags] -- CMD [ARGS...]   exec mode: run CMD only while leading
//	baton run --schedule SPEC [flags] -- CMD [ARGS...]
//	                                     schedule mode: run CMD once per window, on one replica
//	baton install DEST                   copy this binary to DEST (init containers)
//	baton version
//
// main only configures and wires; the election lives in pkg/election and
// the lease in pkg/redislock.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/baton-dev/baton/pkg/supervisor"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "version" || args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintf(stdout, "baton %s (revision %s, %s)\n", version, buildRevision(), runtime.Version())
		return exitOK
	}
	if len(args) > 0 && args[0] == guardArg {
		return supervisor.RunGuard(os.Stdin, stderr)
	}
	if len(args) > 0 && args[0] == "install" {
		return install(args[1:], stderr)
	}
	var (
		cfg *config
		err error
	)
	if len(args) > 0 && args[0] == "run" {
		cfg, err = parseRunConfig(args[1:], getenv, stderr)
	} else {
		cfg, err = parseConfig(args, getenv, stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "baton: %v\n", err)
		return exitUsage
	}
	if cfg.Schedule.Spec != "" {
		return runSchedule(cfg, stderr)
	}
	sc, err := newSidecar(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "baton: %v\n", err)
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitFailed
	}
	code, err := sc.run()
	if err != nil {
		sc.log.Error("sidecar failed", "err", err)
	}
	return code
}
