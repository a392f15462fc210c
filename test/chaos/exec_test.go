//go:build linux

package chaos

// TestChaosExec is the fault suite's exec topology: three `baton run`
// replicas, each behind its own fault proxy, whose job is this test binary
// itself (re-executed as a stamping child, see runStampChild). Under a
// random mix of the faults that apply to exec mode, an interval checker
// proves that no two jobs, across all replicas, ever ran at the same time.
// It is not part of make test; run it with
//
//	go test -count=1 -v -run TestChaosExec ./test/chaos -chaos.exec-duration=2m

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
)

var execDuration = flag.Duration("chaos.exec-duration", 0, "length of TestChaosExec's randomized run of `baton run` replicas; 0 skips it")

const (
	// childEnv makes this test binary the stamping job instead of a test
	// run; stampsEnv names the shared stamp log. Not BATON_*: baton strips
	// its own configuration variables from the job's environment.
	childEnv  = "CHAOS_EXEC_CHILD"
	stampsEnv = "CHAOS_STAMPS"
	// execKillGrace is every replica's --kill-grace: below lease-ttl -
	// renew-deadline of TestChaos's 500ms TTL.
	execKillGrace = 100 * time.Millisecond
	kindFreeze    = "sigstop leader and its job"
)

// init turns the binary into the job when baton runs it, before TestMain
// builds anything.
func init() {
	if os.Getenv(childEnv) != "" {
		os.Exit(runStampChild())
	}
}

// runStampChild is the job: it appends "start <CLOCK_MONOTONIC ns> <pid>
// <fence> <identity>" to the stamp log, waits for SIGTERM, appends "stop
// ..." and exits. Each stamp is one O_APPEND write, so lines of concurrent
// jobs never interleave. A job's interval begins at its start stamp: before
// it only the Go runtime starts, and none of the job's code runs (see
// unstampedJobs for jobs stopped in that moment). A job killed by SIGKILL
// cannot stamp its stop; the watcher observes its death instead.
func runStampChild() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	f, err := os.OpenFile(os.Getenv(stampsEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stamp child:", err)
		return 2
	}
	stamp := func(what string) {
		_, _ = fmt.Fprintf(f, "%s %d %d %s %s\n", what, clocks.MonotonicNS(), os.Getpid(), os.Getenv("BATON_FENCE"), os.Getenv("BATON_IDENTITY"))
	}
	stamp("start")
	<-sigs
	// The process lives on for the moment os.Exit takes; a handover takes
	// at least baton's reap and release and the next replica's acquire on
	// top, so this stamp is the end for the checker.
	stamp("stop")
	return 0
}

// job is one run of the stamping child.
type job struct {
	pid      int
	fence    uint64
	identity string
	start    int64
	// end is the stop stamp, or the moment the freeze fault saw it
	// stopped (it executes nothing after), or else the first poll that
	// found it gone or a zombie (an upper bound, the safe direction; a
	// stop stamp read later replaces it).
	end    int64
	how    string
	frozen bool
}

// execWatch tails the stamp log and watches the pids of unended jobs.
type execWatch struct {
	path string

	mu     sync.Mutex
	jobs   map[int]*job
	order  []*job
	errs   []string
	off    int64
	carry  string
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

func newExecWatch(path string) *execWatch {
	w := &execWatch{path: path, jobs: map[int]*job{}, done: make(chan struct{}), exited: make(chan struct{})}
	go w.loop()
	return w
}

func (w *execWatch) loop() {
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
}

// close stops the watcher after one last poll; later calls do nothing.
func (w *execWatch) close() {
	w.once.Do(func() {
		close(w.done)
		<-w.exited
		w.poll()
	})
}

// poll reads new stamps, then ends every unended job whose pid is gone.
func (w *execWatch) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readLocked()
	for _, j := range w.order {
		if j.end != 0 {
			continue
		}
		// A zombie has exited; only its status waits for a reap, which
		// for a job orphaned by a baton killed with SIGKILL is up to
		// whatever reaps orphans here, at its own pace.
		if st := procState(j.pid); st == "" || st == "Z" {
			j.end, j.how = clocks.MonotonicNS(), "gone"
		}
	}
}

func (w *execWatch) readLocked() {
	f, err := os.Open(w.path)
	if err != nil {
		return // no job has started yet
	}
	defer f.Close()
	if _, err := f.Seek(w.off, 0); err != nil {
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
		w.lineLocked(l)
	}
}

func (w *execWatch) lineLocked(l string) {
	fs := strings.Fields(l)
	if len(fs) != 5 {
		w.errs = append(w.errs, fmt.Sprintf("bad stamp %q", l))
		return
	}
	mono, err1 := strconv.ParseInt(fs[1], 10, 64)
	pid, err2 := strconv.Atoi(fs[2])
	fence, err3 := strconv.ParseUint(fs[3], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		w.errs = append(w.errs, fmt.Sprintf("bad stamp %q: %v", l, err))
		return
	}
	switch fs[0] {
	case "start":
		if _, dup := w.jobs[pid]; dup {
			// pid reuse within a run: keep the first, report it.
			w.errs = append(w.errs, fmt.Sprintf("pid %d started twice", pid))
			return
		}
		j := &job{pid: pid, fence: fence, identity: fs[4], start: mono}
		w.jobs[pid] = j
		w.order = append(w.order, j)
	case "stop":
		j := w.jobs[pid]
		switch {
		case j == nil:
			w.errs = append(w.errs, fmt.Sprintf("pid %d stopped without a start", pid))
		case j.frozen:
			// resumed only by baton's SIGKILL, which cannot be handled
			w.errs = append(w.errs, fmt.Sprintf("frozen job %d ran again", pid))
		case j.end == 0 || j.how == "gone":
			j.end, j.how = mono, "stamp"
		}
	default:
		w.errs = append(w.errs, fmt.Sprintf("bad stamp %q", l))
	}
}

// running returns the pid of an unended job of identity under fence.
func (w *execWatch) running(identity string, fence uint64) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readLocked()
	for _, j := range w.order {
		if j.identity == identity && j.fence == fence && j.end == 0 {
			return j.pid, true
		}
	}
	return 0, false
}

// froze ends the job of pid at mono: from then on it executes nothing.
func (w *execWatch) froze(pid int, mono int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readLocked()
	if j := w.jobs[pid]; j != nil && j.end == 0 {
		j.end, j.how, j.frozen = mono, "frozen", true
	}
}

// terms returns the jobs as terms for Check, and the jobs never ended.
func (w *execWatch) terms() ([]Term, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Term
	errs := append([]string(nil), w.errs...)
	for _, j := range w.order {
		if j.end == 0 {
			errs = append(errs, fmt.Sprintf("job %d (%s, fence %d) has no observed end", j.pid, j.identity, j.fence))
			continue
		}
		out = append(out, Term{Instance: j.identity + "/" + strconv.Itoa(j.pid), Fence: j.fence, Start: j.start, End: j.end, Reason: j.how})
	}
	return out, errs
}

// procState is the state letter of /proc/<pid>/stat ("T" when stopped),
// or "" when the process is gone.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// awaitState waits up to d for pid to be in state want.
func awaitState(pid int, want string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for procState(pid) != want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// childrenOf lists the children of pid from /proc/<pid>/task/*/children.
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// faultFreezeTree stops the leader's baton and then every process under
// it (its job, and whatever stands between them) with SIGSTOP, as a frozen
// VM or node would, for d (above the TTL), and resumes baton and the
// processes between it and its job, not the job. (faultStopBaton stops
// baton alone.) The bound this fault checks: a frozen job executes nothing
// from the moment it was seen stopped, so its interval ends there; on
// resume baton finds its term over and kills the group (SIGTERM pending on
// a stopped process, then SIGKILL after --kill-grace), so the job dies
// without running again, within kill-grace and slack of the resume. A real
// freeze resumes the whole tree at once; then the job runs for that moment
// beside the new term's job, which only a fence checked by whatever the
// job writes to can reject, and no lease can prevent.
func (e *env) faultFreezeTree(w *execWatch, d time.Duration) error {
	l, err := e.findLeader()
	if err != nil {
		return err
	}
	_, fence, _ := e.leaderFence(l)
	if _, err := e.awaitJob(w, l, fence); err != nil {
		return err
	}
	e.hist.Fault(kindFreeze)
	pid := l.cmd.Process.Pid
	e.stop(l)
	if !awaitState(pid, "T", slack) {
		return fmt.Errorf("%s not stopped after SIGSTOP: state %q", l.name, procState(pid))
	}
	// baton is stopped: it starts and reaps nothing now.
	kids := descendantsOf(pid)
	var jobs []int
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGSTOP)
		if !awaitState(k, "T", slack) && procState(k) != "" && procState(k) != "Z" {
			return fmt.Errorf("process %d under %s not stopped after SIGSTOP: state %q", k, l.name, procState(k))
		}
		if w.isJob(k) {
			jobs = append(jobs, k)
		}
		w.froze(k, clocks.MonotonicNS())
	}
	time.Sleep(d)
	_, _, werr := e.awaitNewTerm(fence, e.ttl+slack)
	e.cont(l)
	for _, k := range kids {
		if !w.isJob(k) {
			resume(k)
		}
	}
	for _, k := range jobs {
		deadline := time.Now().Add(execKillGrace + slack)
		for st := procState(k); st != "" && st != "Z"; st = procState(k) {
			if time.Now().After(deadline) {
				return fmt.Errorf("frozen job %d of %s still there %v after its baton resumed", k, l.name, execKillGrace+slack)
			}
			time.Sleep(time.Millisecond)
		}
	}
	e.hist.Healed(kindFreeze, slack)
	if werr != nil {
		return fmt.Errorf("while %s was frozen: %w", l.name, werr)
	}
	return nil
}

// execFaults are the faults of randomFaults that apply to exec mode, the
// whole-tree freeze, and SIGSTOP of baton alone (not its job).
func execFaults(ttl time.Duration, w *execWatch) []weightedFault {
	keep := map[string]bool{
		"resign via API": true, "sigterm leader": true, "kill -9 leader": true,
		"latency short": true, "latency long": true, "blackhole short": true, "blackhole long": true,
		"client pause": true,
	}
	var out []weightedFault
	for _, f := range randomFaults(ttl) {
		if keep[f.kind] {
			out = append(out, f)
		}
	}
	return append(out, weightedFault{kindFreeze, 4, func(e *env, rng *rand.Rand, _ redisDoer) error {
		return e.faultFreezeTree(w, 2*ttl+time.Duration(rng.Int64N(int64(ttl)+1)))
	}}, weightedFault{kindStopBaton, 4, func(e *env, rng *rand.Rand, _ redisDoer) error {
		return e.faultStopBaton(w, 2*ttl+time.Duration(rng.Int64N(int64(ttl)+1)))
	}})
}

// TestChaosExec: see the comment at the top of this file.
func TestChaosExec(t *testing.T) {
	if *execDuration <= 0 {
		t.Skip("exec topology skipped: set -chaos.exec-duration (e.g. 2m) to run it")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ttl := *chaosTTL
	e := newEnvNoNodes(t, ttl)
	stamps := filepath.Join(e.dir, "stamps.log")
	w := newExecWatch(stamps)
	t.Cleanup(w.close) // on an early failure; finish closes it below
	e.sub = []string{"run"}
	e.extra = []string{"--kill-grace", execKillGrace.String(), "--", self}
	e.envv = []string{childEnv + "=1", stampsEnv + "=" + stamps}
	for range 3 {
		e.start()
	}
	c := e.redisClient()
	rng := rand.New(rand.NewPCG(*chaosSeed, *chaosSeed^0x9e3779b97f4a7c15))
	faults := execFaults(ttl, w)
	t.Logf("seed %d, duration %v, TTL %v, kill grace %v", *chaosSeed, *execDuration, ttl, execKillGrace)
	e.leader(10 * time.Second)

	runMix(t, e, c, rng, faults, ttl, *execDuration)
	e.assertLive(5*ttl + slack)
	r := e.finish() // stops every replica: every job has ended
	w.close()

	checkJobs(t, e, w, r)
	if t.Failed() {
		t.Logf("stamps kept in %s (with -chaos.logs)", stamps)
	}
}

// checkJobs proves from the jobs' stamps that no two jobs ran at once and
// that their fences grew, and prints the exec summary.
func checkJobs(t *testing.T, e *env, w *execWatch, r *Report) {
	t.Helper()
	jobs, errs := w.terms()
	unstamped, uerrs := e.unstampedJobs(w)
	errs = append(errs, uerrs...)
	jr := Check(jobs, nil)
	how := map[string]int{}
	for _, j := range jobs {
		how[j.Reason]++
	}
	kinds := make([]string, 0, len(how))
	for k := range how {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	b.WriteString("exec summary\n")
	fmt.Fprintf(&b, "  %-34s %d\n", "jobs (children)", len(jobs))
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-34s %d\n", "  ended by "+k, how[k])
	}
	fmt.Fprintf(&b, "  %-34s %d\n", "jobs stopped before their stamp", unstamped)
	fmt.Fprintf(&b, "  %-34s %d\n", "sidecar terms", r.Transitions)
	fmt.Fprintf(&b, "  %-34s %d\n", "job overlaps", len(jr.Overlaps))
	fmt.Fprintf(&b, "  %-34s %d\n", "job fence errors", len(jr.FenceErrors))
	fmt.Fprintf(&b, "  %-34s %v\n", "smallest gap (job end -> next start)", jr.MinMargin.Round(time.Microsecond))
	fmt.Fprintf(&b, "  %-34s %v\n", "largest gap", jr.MaxGap.Round(time.Microsecond))
	t.Log("\n" + b.String())
	if len(jobs) < 2 {
		t.Errorf("%d jobs ran, want several", len(jobs))
	}
	for _, s := range append(errs, append(jr.Overlaps, append(jr.FenceErrors, jr.RecordErrors...)...)...) {
		t.Error(s)
	}
}

// unstampedJobs counts the jobs baton logged as started that never stamped
// their start: a term that ended within milliseconds of its win can stop
// its job during the Go runtime's start, before any of the job's code ran.
// They are outside the interval check, which is about code that runs; each
// must have been logged as exited by its baton, or its baton killed.
func (e *env) unstampedJobs(w *execWatch) (int, []string) {
	type line struct {
		Msg string `json:"msg"`
		PID int    `json:"pid"`
	}
	w.mu.Lock()
	stamped := make(map[int]bool, len(w.jobs))
	for pid := range w.jobs {
		stamped[pid] = true
	}
	w.mu.Unlock()
	e.mu.Lock()
	nodes := append([]*node(nil), e.nodes...)
	e.mu.Unlock()
	n := 0
	var errs []string
	for _, nd := range nodes {
		started, exited := map[int]bool{}, map[int]bool{}
		for _, l := range strings.Split(nd.log(), "\n") {
			var ll line
			if json.Unmarshal([]byte(l), &ll) != nil || ll.PID == 0 {
				continue
			}
			switch ll.Msg {
			case "child started":
				started[ll.PID] = true
			case "child exited":
				exited[ll.PID] = true
			}
		}
		for pid := range started {
			if stamped[pid] {
				continue
			}
			n++
			if !exited[pid] && procState(pid) != "" && procState(pid) != "Z" {
				errs = append(errs, fmt.Sprintf("job %d of %s never stamped and is still there", pid, nd.name))
			}
		}
	}
	return n, errs
}
