// Command execchild is the bench's job under `baton run`: it appends
//
//	start <mono_ns> <fence> <pid>
//
// to the file named by EXECCHILD_STAMPS as soon as it runs, and
//
//	stop <mono_ns> <pid>
//
// in its SIGTERM handler, then exits 0 at once. The stamps are
// CLOCK_MONOTONIC, the clock of baton's mono_ns log fields, so the bench
// can time baton's hand-off from child to child and its kill latency
// without seeing the child's exec or its signal itself.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/baton-dev/baton/internal/clocks"
)

// stampsEnv names the file the stamps are appended to. It is not a
// BATON_* variable: baton keeps those, its own configuration, from the job.
const stampsEnv = "EXECCHILD_STAMPS"

func main() {
	started := clocks.MonotonicNS()
	// Subscribed before the start stamp is written: a SIGTERM that follows
	// the stamp is always caught and stamped.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	path := os.Getenv(stampsEnv)
	if path == "" {
		fmt.Fprintf(os.Stderr, "execchild: %s is not set\n", stampsEnv)
		os.Exit(2)
	}
	// O_APPEND: a restarted replica's child adds to the same file, and each
	// stamp is one write.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "execchild: %v\n", err)
		os.Exit(2)
	}
	pid := os.Getpid()
	write(f, fmt.Sprintf("start %d %s %d\n", started, os.Getenv("BATON_FENCE"), pid))
	<-sig
	write(f, fmt.Sprintf("stop %d %d\n", clocks.MonotonicNS(), pid))
	os.Exit(0)
}

// write appends one stamp, exiting non-zero when it cannot: a lost stamp
// would skew the bench's pairing.
func write(f *os.File, line string) {
	if _, err := f.WriteString(line); err != nil {
		fmt.Fprintf(os.Stderr, "execchild: %v\n", err)
		os.Exit(2)
	}
}
