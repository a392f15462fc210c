// Command runstamp is the bench's scheduled job under `baton run
// --schedule`: first thing in main it reads the wall clock, then appends
//
//	<unix_ns> <window> <term_start> <identity> <attempt>
//
// to the file named by RUNSTAMP_FILE in one write, and exits 0. window is
// BATON_RUN_WINDOW and term_start BATON_TERM_START (the claim's Redis
// TIME), both RFC 3339; identity is BATON_IDENTITY, the replica that ran
// it. The wall clock is CLOCK_REALTIME, the clock Redis TIME reads on the
// same machine, so the bench can time a window's start to the job's start.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// stampEnv names the file; not BATON_*: baton keeps those from the job.
const stampEnv = "RUNSTAMP_FILE"

func main() {
	now := time.Now().UnixNano()
	path := os.Getenv(stampEnv)
	if path == "" {
		fmt.Fprintf(os.Stderr, "runstamp: %s is not set\n", stampEnv)
		os.Exit(2)
	}
	line := strconv.FormatInt(now, 10) + " " + field("BATON_RUN_WINDOW") + " " + field("BATON_TERM_START") + " " +
		field("BATON_IDENTITY") + " " + field("BATON_RUN_ATTEMPT") + "\n"
	// O_APPEND and one write: the replicas' jobs share the file.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		_, err = f.WriteString(line)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runstamp: %v\n", err)
		os.Exit(2)
	}
}

// field is the variable's value, or "-" when it is unset or empty, so that
// every line has five fields.
func field(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return "-"
}
