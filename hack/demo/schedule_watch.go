package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// The schedule scene's live view: the job's lines, as each replica's
// script prints them, and the checks that run on them as they come.

// jobEventKind is what a schedEvent says.
type jobEventKind int

const (
	jobStarted jobEventKind = iota + 1 // the script began: "...: working"
	jobDone                            // the script reached its end: "...: done"
	jobGone                            // a killed runner's job has exited (watchGone)
)

// schedEvent is one thing seen of a window's attempt.
type schedEvent struct {
	kind    jobEventKind
	replica string
	window  string
	attempt int
	fence   uint64
	pid     int
	at      time.Time // when the demo saw it
	err     error     // jobGone only: the job did not exit
}

// parseJobLine reads a line of windowScript.
func parseJobLine(replica, line string) (schedEvent, bool) {
	e := schedEvent{replica: replica, at: time.Now()}
	var what string
	if _, err := fmt.Sscanf(line, "window %s attempt %d fence %d pid %d: %s", &e.window, &e.attempt, &e.fence, &e.pid, &what); err != nil {
		return e, false
	}
	switch what {
	case "working":
		e.kind = jobStarted
	case "done":
		e.kind = jobDone
	default:
		return e, false
	}
	return e, true
}

// readJobLines prints the lines of replica's jobs and sends each one of
// windowScript's on events, until r ends: when baton and every job it
// started have exited.
func readJobLines(ctx context.Context, r io.ReadCloser, replica string, events chan<- schedEvent, out *sync.Mutex) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out.Lock()
		fmt.Println("  [job under " + replica + "] " + sc.Text())
		out.Unlock()
		e, ok := parseJobLine(replica, sc.Text())
		if !ok {
			continue
		}
		select {
		case events <- e:
		case <-ctx.Done():
			return
		}
	}
}

// windowWatch follows the windows through the job's lines and checks, at
// each line, that no window runs two attempts at once and that none runs
// again after its success.
type windowWatch struct {
	events chan schedEvent
	live   map[string]schedEvent // window → the attempt whose job runs
	done   map[string]schedEvent // window → the attempt that ran to its end
	first  string                // the first window seen
	// The kill: the victim replica, the attempt it ran, and the retry.
	victim        string
	killed, retry schedEvent
}

func newWindowWatch(events chan schedEvent) *windowWatch {
	return &windowWatch{events: events, live: map[string]schedEvent{}, done: map[string]schedEvent{}}
}

// next returns the next event once checked; an error when it breaks a
// rule, or when none comes within wait.
func (w *windowWatch) next(ctx context.Context, wait time.Duration) (schedEvent, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	var e schedEvent
	select {
	case e = <-w.events:
	case <-t.C:
		return e, fmt.Errorf("no run of the job began or ended for %v", wait)
	case <-ctx.Done():
		return e, ctx.Err()
	}
	if w.first == "" {
		w.first = e.window
	}
	cur, running := w.live[e.window]
	switch e.kind {
	case jobStarted:
		if running {
			return e, fmt.Errorf("window %s overlapped: attempt %d started on %s while attempt %d still ran on %s (pid %d)",
				e.window, e.attempt, e.replica, cur.attempt, cur.replica, cur.pid)
		}
		if d, ok := w.done[e.window]; ok {
			return e, fmt.Errorf("window %s ran again (attempt %d on %s) after attempt %d ran to its end on %s",
				e.window, e.attempt, e.replica, d.attempt, d.replica)
		}
		w.live[e.window] = e
	case jobDone:
		if d, ok := w.done[e.window]; ok {
			return e, fmt.Errorf("window %s ran twice to success: attempt %d on %s and attempt %d on %s",
				e.window, d.attempt, d.replica, e.attempt, e.replica)
		}
		w.done[e.window] = e
		delete(w.live, e.window)
		say("window %s: ran once, on %s (attempt %d, fence %d)", e.window, e.replica, e.attempt, e.fence)
	case jobGone:
		if running && cur.pid == e.pid {
			delete(w.live, e.window)
		}
	}
	return e, nil
}
