//go:build linux

package chaos

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
)

// The scheduled job of TestChaosSchedule is this test binary, run again
// with schedChildEnv set (not BATON_*: baton strips its own variables).
const (
	schedChildEnv  = "CHAOS_SCHED_CHILD"
	schedStampsEnv = "CHAOS_SCHED_STAMPS"
	schedSeedEnv   = "CHAOS_SCHED_SEED"
	// schedMaxJob bounds a job's run time; one in schedFailOneIn exits 1.
	schedMaxJob    = 300 * time.Millisecond
	schedFailOneIn = 8
)

func init() {
	if os.Getenv(schedChildEnv) != "" {
		os.Exit(runSchedChild())
	}
}

// runSchedChild is the scheduled job: it stamps "start MONO WALL PID
// WINDOW RUN_ID ATTEMPT FENCE IDENTITY", runs for a time drawn from the
// seed, the window and the attempt, and stamps "end MONO WALL PID EXIT"
// (EXIT "term" after SIGTERM). Each stamp is one O_APPEND write.
func runSchedChild() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	f, err := os.OpenFile(os.Getenv(schedStampsEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "schedule child:", err)
		return 2
	}
	env := os.Getenv
	stamp := func(what string, rest ...string) {
		_, _ = fmt.Fprintf(f, "%s %d %d %d %s\n", what, clocks.MonotonicNS(), time.Now().UnixNano(), os.Getpid(), strings.Join(rest, " "))
	}
	stamp("start", env("BATON_RUN_WINDOW"), env("BATON_RUN_ID"), env("BATON_RUN_ATTEMPT"), env("BATON_FENCE"), env("BATON_IDENTITY"))
	h := fnv.New64a()
	_, _ = io.WriteString(h, env(schedSeedEnv)+" "+env("BATON_RUN_WINDOW")+" "+env("BATON_RUN_ATTEMPT"))
	r := h.Sum64()
	r ^= r >> 33 // FNV's output mixed (murmur3's finalizer): its bits are uniform
	r *= 0xff51afd7ed558ccd
	r ^= r >> 33
	code := 0
	if (r>>32)%schedFailOneIn == 0 {
		code = 1
	}
	select {
	case <-time.After(time.Duration(r % uint64(schedMaxJob))):
		stamp("end", strconv.Itoa(code))
		return code
	case <-sigs:
		stamp("end", "term")
		return 143
	}
}

// schedWatch tails the stamp log of TestChaosSchedule and ends each job
// without an end stamp when its process is gone (SIGKILL by its guard, or
// with its baton), at that moment: an upper bound.
type schedWatch struct {
	path string

	mu    sync.Mutex
	jobs  map[int]*SchedAttempt
	order []*SchedAttempt
	errs  []string
	off   int64
	carry string

	done, exited chan struct{}
	once         sync.Once
}

func newSchedWatch(path string) *schedWatch {
	w := &schedWatch{path: path, jobs: map[int]*SchedAttempt{}, done: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(w.exited)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			w.poll()
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// close stops the watcher after a last poll; later calls do nothing.
func (w *schedWatch) close() {
	w.once.Do(func() {
		close(w.done)
		<-w.exited
		w.poll()
	})
}

func (w *schedWatch) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readLocked()
	for pid, a := range w.jobs {
		if a.End != 0 {
			continue
		}
		if st := procState(pid); st == "" || st == "Z" {
			a.End, a.EndWall, a.Exit = clocks.MonotonicNS(), time.Now().UnixNano(), "gone"
		}
	}
}

func (w *schedWatch) readLocked() {
	f, err := os.Open(w.path)
	if err != nil {
		return // no job yet
	}
	defer f.Close()
	if _, err := f.Seek(w.off, io.SeekStart); err != nil {
		w.errs = append(w.errs, err.Error())
		return
	}
	b, err := io.ReadAll(f)
	w.off += int64(len(b))
	if err != nil {
		w.errs = append(w.errs, err.Error())
	}
	lines := strings.Split(w.carry+string(b), "\n")
	w.carry = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if err := w.lineLocked(l); err != nil {
			w.errs = append(w.errs, fmt.Sprintf("stamp %q: %v", l, err))
		}
	}
}

func (w *schedWatch) lineLocked(l string) error {
	fs := strings.Fields(l)
	if len(fs) < 5 {
		return errors.New("too few fields")
	}
	mono, err1 := strconv.ParseInt(fs[1], 10, 64)
	wall, err2 := strconv.ParseInt(fs[2], 10, 64)
	pid, err3 := strconv.Atoi(fs[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	switch {
	case fs[0] == "start" && len(fs) == 9:
		if w.jobs[pid] != nil {
			return fmt.Errorf("pid %d started twice", pid)
		}
		win, err1 := time.Parse(time.RFC3339, fs[4])
		attempt, err2 := strconv.Atoi(fs[6])
		fence, err3 := strconv.ParseUint(fs[7], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		a := &SchedAttempt{Window: win, RunID: fs[5], Attempt: attempt, Fence: fence, Identity: fs[8],
			Stamped: true, Start: mono, StartWall: wall}
		w.jobs[pid] = a
		w.order = append(w.order, a)
	case fs[0] == "end" && len(fs) == 5:
		a := w.jobs[pid]
		if a == nil {
			return fmt.Errorf("pid %d ended without a start", pid)
		}
		if a.End == 0 || a.Exit == "gone" { // the stamp is exact; "gone" was a bound
			a.End, a.EndWall, a.Exit = mono, wall, fs[4]
		}
	default:
		return errors.New("not a stamp")
	}
	return nil
}

// running returns the pids of the jobs that run now, by identity.
func (w *schedWatch) running() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readLocked()
	out := map[string]int{}
	for pid, a := range w.jobs {
		if a.End == 0 {
			out[a.Identity] = pid
		}
	}
	return out
}

// attempts returns a copy of every stamped attempt, and the watcher's
// errors.
func (w *schedWatch) attempts() ([]SchedAttempt, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]SchedAttempt, 0, len(w.order))
	for _, a := range w.order {
		out = append(out, *a)
	}
	return out, append([]string(nil), w.errs...)
}
