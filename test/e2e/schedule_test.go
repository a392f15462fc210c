//go:build linux

package e2e

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/pkg/runs"
)

// Scenario 9's job: a window of 10 s; a first attempt of 8 s, so that the
// pod's deletion reaches it mid-run even when the kubelet's SIGTERM comes
// seconds after the delete (seen: up to 3 s on a busy node), and a retry of
// 2 s, which still ends inside the window.
const (
	scheduleEvery = 10 * time.Second
	runScript     = `echo "run start $BATON_RUN_WINDOW attempt=$BATON_RUN_ATTEMPT fence=$BATON_FENCE"
trap 'echo "run stop $BATON_RUN_WINDOW attempt=$BATON_RUN_ATTEMPT fence=$BATON_FENCE"; exit 143' TERM
d=8; [ "$BATON_RUN_ATTEMPT" = 1 ] || d=2
sleep $d & wait $!
echo "run end $BATON_RUN_WINDOW attempt=$BATON_RUN_ATTEMPT fence=$BATON_FENCE"`
)

var runRe = regexp.MustCompile(`^run (start|stop|end) (\S+) attempt=(\d+) fence=(\d+)$`)

// scheduleMode is scenario 9: mode schedule, 3 replicas of a job every
// 10 s on the host's Redis. Deleting the pod of a window's runner mid-run
// gets the window retried once, by another pod. The evidence is the job's
// record in Redis (pkg/runs Inspect, as baton itself reads it), and the
// job's own lines: the interrupted window has exactly 2 attempts, the
// deleted pod's failed and another pod's succeeded; every other window
// one success; no window missing; no two attempts overlapping.
func (s *suite) scheduleMode(t *testing.T) {
	const n, name = 9, "schedule mode, runner pod deleted mid-run"
	ns, release := "schedule", "sched"
	s.createNamespace(t, ns)
	values := s.writeValues(t, "schedule", fmt.Sprintf(`mode: schedule
replicaCount: 3
image: {repository: localhost/baton, tag: e2e, pullPolicy: Never}
app:
  image: {repository: localhost/busybox, tag: e2e, pullPolicy: Never}
  command: ["sh", "-c", %q]
redis:
  addr: %q
schedule:
  spec: "@every %s"
timings:
  leaseTTL: 3s
exec:
  killGrace: 500ms
terminationGracePeriodSeconds: 15
`, runScript, s.redis, scheduleEvery))
	rdb := redis.NewClient(&redis.Options{Addr: s.redis})
	defer rdb.Close()
	job, err := runs.New(rdb, release, runs.Options{Identity: "e2e"}) // the lock: the release's name
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.helm(t, "install", release, s.root+"/charts/baton", "-n", ns, "-f", values, "--wait", "--timeout", "120s"); err != nil {
		s.report(t, n, name, false, "install: %v\n%s", err, s.describe(ns))
		return
	}
	fail := func(format string, args ...any) {
		t.Helper()
		s.report(t, n, name, false, format+"\n%s", append(args, s.describe(ns))...)
	}

	// The first run whose job has started (its own line): its pod goes.
	var target runs.Record
	var polled time.Time
	if err := poll(s.ctx, 2*scheduleEvery+5*time.Second, func() bool {
		if time.Since(polled) < 100*time.Millisecond {
			return false
		}
		polled = time.Now()
		info, err := job.Inspect(s.ctx)
		if err != nil || len(info.Running) == 0 {
			return false
		}
		target = info.Running[0]
		s.logs.Poll()
		return hasRunLine(runLines(s.logs.Lines(ns, target.Identity, "app")), "start", target.Window, target.Attempt)
	}); err != nil {
		fail("no run started within %v of the install: %v", 2*scheduleEvery+5*time.Second, err)
		return
	}
	deleted := time.Now()
	if err := s.c.Client.CoreV1().Pods(ns).Delete(s.ctx, target.Identity, metav1.DeleteOptions{}); err != nil {
		fail("delete the runner %s: %v", target.Identity, err)
		return
	}
	t.Logf("e2e: deleted %s, the runner of window %s (attempt %d, fence %d)", target.Identity, target.Window, target.Attempt, target.Fence)

	// The window's retry succeeds, then the next two windows do.
	var info runs.Info
	next := windowTime(t, target.Window).Add(2 * scheduleEvery)
	if err := poll(s.ctx, 3*scheduleEvery+5*time.Second, func() bool {
		if time.Since(polled) < 100*time.Millisecond {
			return false
		}
		polled = time.Now()
		info, err = job.Inspect(s.ctx)
		return err == nil && succeededBy(info, next)
	}); err != nil {
		fail("the windows up to %s did not all succeed within %v: %v; record: %s", runs.WindowName(next), 3*scheduleEvery+5*time.Second, err, recordString(info))
		return
	}
	s.logs.Poll()
	problems, retry := checkRuns(info, target)
	overlaps := overlappingTerms(runIntervals(s.logs.Lines(ns, release+"-baton", "app")))
	if len(overlaps) > 0 {
		problems = append(problems, "the jobs' own lines overlap: "+strings.Join(overlaps, "; "))
	}
	if len(problems) > 0 {
		fail("%s; record: %s", strings.Join(problems, "; "), recordString(info))
		return
	}
	s.report(t, n, name, true,
		"window %s: attempt 1 by %s failed at the delete, attempt 2 by %s succeeded, claimed %v after the delete; %d windows with one success each; no two attempts overlapping (record and job lines)",
		target.Window, target.Identity, retry.Identity, retry.Start.Sub(deleted).Round(time.Millisecond), len(windows(info))-1)
	s.figure("schedule mode: runner pod deleted mid-run, to the retry's claim", "%v", retry.Start.Sub(deleted).Round(time.Millisecond))
}

// checkRuns checks the record of the scenario: the window of target has
// exactly 2 attempts (target's, failed, and one by another pod that
// succeeded), every other window ended exactly one success, the windows
// are consecutive, and no two attempts overlap in Redis time. It returns
// what is wrong, and the retry.
func checkRuns(info runs.Info, target runs.Record) (problems []string, retry runs.Record) {
	ws := windows(info)
	names := make([]string, 0, len(ws))
	for w := range ws {
		names = append(names, w)
	}
	sort.Strings(names) // RFC 3339 in UTC sorts by time
	for i, w := range names {
		recs := ws[w]
		if i > 0 {
			if prev, cur := mustWindow(names[i-1]), mustWindow(w); cur.Sub(prev) != scheduleEvery {
				problems = append(problems, fmt.Sprintf("windows %s and %s are not consecutive: a window was missed", names[i-1], w))
			}
		}
		if w != target.Window {
			if len(recs) != 1 || recs[0].Status != runs.Succeeded {
				problems = append(problems, fmt.Sprintf("window %s: want one success, got %s", w, attemptsString(recs)))
			}
			continue
		}
		if len(recs) != 2 {
			problems = append(problems, fmt.Sprintf("window %s of the deleted runner: want 2 attempts, got %s", w, attemptsString(recs)))
			continue
		}
		first, second := recs[0], recs[1]
		if first.Attempt != 1 || first.RunID != target.RunID || first.Status != runs.Failed {
			problems = append(problems, fmt.Sprintf("window %s: want attempt 1 by the deleted %s failed, got %s", w, target.Identity, attemptsString(recs)))
		}
		if second.Attempt != 2 || second.Identity == target.Identity || second.Status != runs.Succeeded {
			problems = append(problems, fmt.Sprintf("window %s: want attempt 2 by another pod succeeded, got %s", w, attemptsString(recs)))
		}
		retry = second
	}
	if _, ok := ws[target.Window]; !ok {
		problems = append(problems, fmt.Sprintf("no record of the deleted runner's window %s", target.Window))
	}
	all := append([]runs.Record(nil), info.Recent...)
	sort.Slice(all, func(i, j int) bool { return all[i].Start.Before(all[j].Start) })
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		end := a.End
		if end.IsZero() { // running
			end = info.Now
		}
		if b.Start.Before(end) {
			problems = append(problems, fmt.Sprintf("attempts overlap: %s attempt %d by %s until %s, and %s attempt %d by %s from %s",
				a.Window, a.Attempt, a.Identity, end.Format(time.RFC3339Nano), b.Window, b.Attempt, b.Identity, b.Start.Format(time.RFC3339Nano)))
		}
	}
	return problems, retry
}

// windows are the attempts of info by window, oldest attempt first,
// without the window still running.
func windows(info runs.Info) map[string][]runs.Record {
	out := map[string][]runs.Record{}
	running := map[string]bool{}
	for _, r := range info.Recent {
		out[r.Window] = append(out[r.Window], r)
		if r.Status == runs.Running {
			running[r.Window] = true
		}
	}
	for w, recs := range out {
		if running[w] {
			delete(out, w)
			continue
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].Attempt < recs[j].Attempt })
	}
	return out
}

// succeededBy reports whether the window starting at w has succeeded.
func succeededBy(info runs.Info, w time.Time) bool {
	for _, r := range info.Recent {
		if r.Window == runs.WindowName(w) && r.Status == runs.Succeeded {
			return true
		}
	}
	return false
}

func windowTime(t *testing.T, w string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, w)
	if err != nil {
		t.Fatalf("window %q: %v", w, err)
	}
	return tm
}

func mustWindow(w string) time.Time {
	tm, _ := time.Parse(time.RFC3339, w)
	return tm
}

func attemptsString(recs []runs.Record) string {
	var b []string
	for _, r := range recs {
		b = append(b, fmt.Sprintf("#%d %s by %s", r.Attempt, r.Status, r.Identity))
	}
	return "[" + strings.Join(b, ", ") + "]"
}

// recordString is the job's record, oldest first, for failure messages.
func recordString(info runs.Info) string {
	recs := append([]runs.Record(nil), info.Recent...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Start.Before(recs[j].Start) })
	var b []string
	for _, r := range recs {
		b = append(b, fmt.Sprintf("%s #%d %s by %s fence %d %s..%s", r.Window, r.Attempt, r.Status, r.Identity, r.Fence,
			r.Start.Format("15:04:05.000"), r.End.Format("15:04:05.000")))
	}
	return strings.Join(b, "; ")
}

// runLine is one of the job's own lines.
type runLine struct {
	harnessLogLine
	event, window string
	attempt       int
	fence         uint64
}

func runLines(lines []harnessLogLine) []runLine {
	var out []runLine
	for _, l := range lines {
		m := runRe.FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		r := runLine{harnessLogLine: l, event: m[1], window: m[2]}
		fmt.Sscan(m[3], &r.attempt)
		fmt.Sscan(m[4], &r.fence)
		out = append(out, r)
	}
	return out
}

// hasRunLine reports whether lines hold the event of window's attempt.
func hasRunLine(lines []runLine, event, window string, attempt int) bool {
	for _, l := range lines {
		if l.event == event && l.window == window && l.attempt == attempt {
			return true
		}
	}
	return false
}

// runIntervals are the intervals from each run's first to its last line,
// by pod and fence (a run's own).
func runIntervals(lines []harnessLogLine) map[termKey]*interval {
	out := map[termKey]*interval{}
	for _, l := range runLines(lines) {
		k := termKey{l.Pod, l.fence}
		if iv := out[k]; iv != nil {
			iv.To = l.Time
		} else {
			out[k] = &interval{From: l.Time, To: l.Time}
		}
	}
	return out
}
