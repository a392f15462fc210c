package supervisor

import (
	"bufio"
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// watchRun is one watchDeadline running on a fake clock.
type watchRun struct {
	clk  *testingclock.FakeClock
	msgs chan guardMsg
	done chan [2]any // kill, why
}

func startWatch(t0 time.Time, first time.Duration, buffered ...guardMsg) *watchRun {
	w := &watchRun{clk: testingclock.NewFakeClock(t0), msgs: make(chan guardMsg, len(buffered)), done: make(chan [2]any, 1)}
	for _, m := range buffered {
		w.msgs <- m
	}
	go func() {
		kill, why := watchDeadline(w.clk, t0.Add(first), w.msgs)
		w.done <- [2]any{kill, why}
	}()
	return w
}

// result waits until the watch has returned.
func (w *watchRun) result(t *testing.T) (returned, kill bool, why string) {
	t.Helper()
	select {
	case r := <-w.done:
		return true, r[0].(bool), r[1].(string)
	case <-time.After(10 * time.Second): // a bound for a broken watch
		return false, false, ""
	}
}

// settle waits, after a step of the clock has fired its only timer, until
// the watch has returned or waits on its next timer; it reports whether
// it returned, and how.
func (w *watchRun) settle(t *testing.T) (returned, kill bool, why string) {
	t.Helper()
	end := time.Now().Add(10 * time.Second) // a bound for a broken watch, never what passes
	for {
		select {
		case r := <-w.done:
			return true, r[0].(bool), r[1].(string)
		default:
		}
		if w.clk.HasWaiters() {
			return false, false, ""
		}
		if time.Now().After(end) {
			t.Fatal("the watch neither returned nor set a timer")
		}
		time.Sleep(time.Millisecond) // the watch's goroutine runs on its own
	}
}

// TestGuardWatchesItsDeadline checks the guard's decision on an injected
// clock: it kills exactly when the latest deadline has passed, after a jump
// of the clock (a suspend, which Go's timers miss), and when baton's pipe
// ends; it never kills after "done", nor before a deadline it was given in
// time.
func TestGuardWatchesItsDeadline(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	at := func(d time.Duration) guardMsg { return guardMsg{deadline: t0.Add(d)} }
	type step struct {
		advance time.Duration // the clock moves by this much first
		send    *guardMsg     // then this is sent, if set
		close   bool          // or the pipe ends
		want    string        // "" (still watching), "kill" or "exit"
	}
	for _, tc := range []struct {
		name     string
		first    time.Duration
		buffered []guardMsg
		steps    []step
		why      string
	}{
		{name: "the deadline passes", first: time.Second, why: "deadline passed", steps: []step{
			{advance: 999 * time.Millisecond},
			{advance: time.Millisecond, want: "kill"},
		}},
		{name: "a later deadline replaces it", first: time.Second, why: "deadline passed", steps: []step{
			{advance: 500 * time.Millisecond, send: &guardMsg{deadline: t0.Add(2 * time.Second)}},
			{advance: 600 * time.Millisecond},
			{advance: 899 * time.Millisecond},
			{advance: time.Millisecond, want: "kill"},
		}},
		{name: "a clock that jumps past it", first: time.Second, why: "deadline passed 9s ago", steps: []step{
			{advance: 10 * time.Second, want: "kill"},
		}},
		{name: "done", first: time.Second, steps: []step{
			{advance: 500 * time.Millisecond, send: &guardMsg{done: true}, want: "exit"},
		}},
		{name: "baton's pipe ends", first: time.Minute, why: "pipe closed", steps: []step{
			{close: true, want: "kill"},
		}},
		{name: "a deadline waiting when the time comes", first: 0, buffered: []guardMsg{at(3 * time.Second)}, why: "deadline passed", steps: []step{
			{advance: 2999 * time.Millisecond},
			{advance: time.Millisecond, want: "kill"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWatch(t0, tc.first, tc.buffered...)
			for i, s := range tc.steps {
				if s.advance > 0 {
					w.clk.Step(s.advance)
				}
				if s.send != nil {
					w.msgs <- *s.send
				}
				if s.close {
					close(w.msgs)
				}
				var (
					returned, kill bool
					why            string
				)
				switch {
				case s.want != "":
					returned, kill, why = w.result(t)
				case s.send != nil:
					// A later deadline: the next steps tell what it did.
					continue
				default:
					returned, kill, why = w.settle(t)
				}
				got := ""
				switch {
				case returned && kill:
					got = "kill"
				case returned:
					got = "exit"
				}
				if got != s.want {
					t.Fatalf("step %d, at +%v: %q (%s), want %q", i, w.clk.Since(t0), got, why, s.want)
				}
				if got == "kill" && !strings.Contains(why, tc.why) {
					t.Errorf("killed because %q, want it to say %q", why, tc.why)
				}
			}
		})
	}
}

// TestGuardProtocol: what baton writes parses back; anything else is
// refused, and ends the messages, which makes the watch kill.
func TestGuardProtocol(t *testing.T) {
	if m, err := parseGuardLine(formatDeadline(1234567890123)); err != nil || !m.deadline.Equal(time.Unix(0, 1234567890123)) {
		t.Errorf("a formatted deadline parses as %+v, %v", m, err)
	}
	for _, bad := range []string{"", "deadline\n", "deadline x\n", "deadline -5\n", "deadline 0\n", "deadline 1 2\n", "kill\n", "done now\n"} {
		if _, err := parseGuardLine(bad); err == nil {
			t.Errorf("%q parses", bad)
		}
	}
	msgs := make(chan guardMsg, 4)
	readGuardMsgs(bufio.NewReader(strings.NewReader(formatDeadline(5)+"nonsense\n"+formatDeadline(6))), msgs)
	var got []guardMsg
	for m := range msgs {
		got = append(got, m)
	}
	if len(got) != 1 || !got[0].deadline.Equal(time.Unix(0, 5)) {
		t.Errorf("read %+v, want the first deadline and the end at the nonsense", got)
	}
}
