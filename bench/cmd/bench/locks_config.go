package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// lockConfig is the command line of the locks step (-only locks): the
// application locks of pkg/locks (TryLock on a Mutex, plain and fair) and
// of the sidecar's /locks API, side by side with the raw floor,
// bsm/redislock and redsync.
type lockConfig struct {
	// Uncontended acquire+release throughput.
	opClients  []int         // client counts, each client on its own name
	opDuration time.Duration // per tool and client count, split over opRounds
	opRounds   int
	// Contended hand-off on one name.
	handoffClients []int
	handoffs       int           // hand-offs per tool and client count
	handoffLimit   time.Duration // at most this long per tool and client count
	hold           time.Duration // how long a holder keeps the lock
	// Fairness.
	fairClients  int
	fairDuration time.Duration
}

func (l *lockConfig) register(fs *flag.FlagSet) {
	l.opClients, l.handoffClients = []int{1, 16}, []int{10, 100}
	fs.Func("locks-op-clients", "locks step: client counts of the uncontended acquire+release runs, each client on its own name (default 1,16)", intList(&l.opClients))
	fs.DurationVar(&l.opDuration, "locks-op-duration", 6*time.Second, "locks step: uncontended run time per tool and client count")
	fs.IntVar(&l.opRounds, "locks-op-rounds", 3, "locks step: interleaved rounds the uncontended runs are split into")
	fs.Func("locks-handoff-clients", "locks step: client counts of the contended hand-off runs, all on one name (default 10,100)", intList(&l.handoffClients))
	fs.IntVar(&l.handoffs, "locks-handoffs", 1000, "locks step: contended hand-offs per tool and client count")
	fs.DurationVar(&l.handoffLimit, "locks-handoff-limit", 10*time.Second, "locks step: longest contended run per tool and client count (polling peers are slow)")
	fs.DurationVar(&l.hold, "locks-hold", time.Millisecond, "locks step: how long each holder keeps the lock in the contended and fairness runs")
	fs.IntVar(&l.fairClients, "locks-fair-clients", 10, "locks step: clients of the fairness runs")
	fs.DurationVar(&l.fairDuration, "locks-fair-duration", 60*time.Second, "locks step: length of each tool's fairness run")
}

// quick shortens the step for -quick, except for the flags set.
func (l *lockConfig) quick(set map[string]bool) {
	for name, f := range map[string]func(){
		"locks-op-duration":   func() { l.opDuration = 1500 * time.Millisecond },
		"locks-handoffs":      func() { l.handoffs = 200 },
		"locks-handoff-limit": func() { l.handoffLimit = 4 * time.Second },
		"locks-fair-duration": func() { l.fairDuration = 5 * time.Second },
	} {
		if !set[name] {
			f()
		}
	}
}

func (l *lockConfig) validate() error {
	switch {
	case l.opDuration <= 0 || l.handoffLimit <= 0 || l.fairDuration <= 0:
		return errors.New("-locks-op-duration, -locks-handoff-limit and -locks-fair-duration must be positive")
	case l.opRounds < 1:
		return errors.New("-locks-op-rounds must be at least 1")
	case l.handoffs < 1:
		return errors.New("-locks-handoffs must be at least 1")
	case l.hold < 0 || l.hold > time.Second:
		return errors.New("-locks-hold must lie between 0 and 1s")
	case l.fairClients < 2 || l.fairClients > 500:
		return errors.New("-locks-fair-clients must be 2 to 500")
	}
	for _, n := range l.handoffClients {
		if n < 2 {
			return fmt.Errorf("-locks-handoff-clients: %d clients cannot hand off to each other (at least 2)", n)
		}
	}
	return nil
}

// intList parses a comma-separated list of counts from 1 to 500 into dst.
func intList(dst *[]int) func(string) error {
	return func(s string) error {
		var out []int
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 500 {
				return fmt.Errorf("%q is not a count from 1 to 500", f)
			}
			out = append(out, n)
		}
		*dst = out
		return nil
	}
}
