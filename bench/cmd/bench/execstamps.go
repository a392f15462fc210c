package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// childStamp is one line that bench/cmd/execchild wrote: its start or its
// SIGTERM, on CLOCK_MONOTONIC.
type childStamp struct {
	start bool
	mono  int64
	fence uint64 // start stamps only
	pid   int
}

// parseStamp reads one "start <mono_ns> <fence> <pid>" or
// "stop <mono_ns> <pid>" line.
func parseStamp(line string) (childStamp, error) {
	f := strings.Fields(line)
	bad := func(err error) (childStamp, error) {
		return childStamp{}, fmt.Errorf("child stamp %q: %w", line, err)
	}
	var s childStamp
	var pid string
	switch {
	case len(f) == 4 && f[0] == "start":
		s.start, pid = true, f[3]
		fence, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return bad(err)
		}
		s.fence = fence
	case len(f) == 3 && f[0] == "stop":
		pid = f[2]
	default:
		return bad(fmt.Errorf("not start <mono_ns> <fence> <pid> or stop <mono_ns> <pid>"))
	}
	var err error
	if s.mono, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return bad(err)
	}
	if s.pid, err = strconv.Atoi(pid); err != nil {
		return bad(err)
	}
	return s, nil
}

// readStamps reads a child's stamps file; a missing file has none yet. A
// last line without its newline is still being written, and waits for the
// next read.
func readStamps(path string) ([]childStamp, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	text := string(b)
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i+1]
	} else {
		text = ""
	}
	var out []childStamp
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		s, err := parseStamp(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// waitStamps waits until path holds at least n stamps, within limit.
func waitStamps(ctx context.Context, path string, n int, limit time.Duration) ([]childStamp, error) {
	deadline := time.Now().Add(limit)
	for {
		ss, err := readStamps(path)
		if err != nil {
			return nil, err
		}
		if len(ss) >= n {
			return ss, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: %d child stamps after %v, want %d", path, len(ss), limit, n)
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// lastStop is the stamp of the last "stopped leading" in a sidecar's log.
func lastStop(path string) (int64, error) {
	ts, err := readTransitions(path)
	if err != nil {
		return 0, err
	}
	for i := len(ts) - 1; i >= 0; i-- {
		if !ts[i].started {
			return ts[i].mono, nil
		}
	}
	return 0, fmt.Errorf("no \"stopped leading\" in %s", path)
}

// logEvent is one line of a sidecar's JSON log: its wall time, and its
// mono_ns stamp if it has one.
type logEvent struct {
	Msg  string    `json:"msg"`
	Time time.Time `json:"time"`
	Mono int64     `json:"mono_ns"`
}

// lastEvent is the last line of a sidecar's JSON log whose msg is msg.
func lastEvent(path, msg string) (logEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return logEvent{}, err
	}
	defer f.Close()
	var last logEvent
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev logEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Msg == msg {
			last, found = ev, true
		}
	}
	if err := sc.Err(); err != nil {
		return logEvent{}, err
	}
	if !found {
		return logEvent{}, fmt.Errorf("no %q in %s", msg, path)
	}
	return last, nil
}

// reapedMono puts the last "child stopped" line of a `baton run` log (the
// child reaped and its group gone; the line has wall time only) on
// CLOCK_MONOTONIC, through the last "stopped leading" line, which has both
// clocks: the two lines are a few milliseconds apart, so the wall clock
// cannot have moved between them by more than its slew.
func reapedMono(path string) (int64, error) {
	ended, err := lastEvent(path, "stopped leading")
	if err != nil {
		return 0, err
	}
	if ended.Mono == 0 {
		return 0, fmt.Errorf("%s: \"stopped leading\" has no mono_ns", path)
	}
	reaped, err := lastEvent(path, "child stopped")
	if err != nil {
		return 0, err
	}
	return ended.Mono + reaped.Time.Sub(ended.Time).Nanoseconds(), nil
}
