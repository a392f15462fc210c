// Command stampjob is the job that baton's replicas run in the interop test
// (`baton run ... -- stampjob -stamps F`): it stamps its start, a beat every
// -beat, and its end at SIGTERM, under the identity baton gives it
// (BATON_IDENTITY). A SIGKILL ends it without a stamp; the test then takes
// the moment of its death.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/baton-dev/baton/test/interop/internal/stamp"
)

func main() {
	path := flag.String("stamps", "", "stamp file (required)")
	beat := flag.Duration("beat", 20*time.Millisecond, "time between beats")
	flag.Parse()
	if *path == "" || *beat <= 0 {
		fmt.Fprintln(os.Stderr, "stampjob: -stamps is required and -beat must be positive")
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	w, err := stamp.Open(*path, stamp.Baton, os.Getenv("BATON_IDENTITY"))
	if err == nil {
		err = w.Stamp(stamp.Start)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stampjob:", err)
		os.Exit(1)
	}
	tick := time.NewTicker(*beat)
	for {
		select {
		case <-tick.C:
			_ = w.Stamp(stamp.Beat)
		case <-sigs:
			// The last thing the job does: its interval ends here.
			_ = w.Stamp(stamp.End)
			os.Exit(0)
		}
	}
}
