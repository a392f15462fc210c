package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

// The schedule scene's end: the job's record, as runs.Job.Inspect reads it
// from Redis, printed and checked.

// checkRecord prints info's runs and checks them against what the scene
// saw: every window from the first one seen to last has exactly one
// success; a window's attempts never overlap and their fences grow; the
// killed window has two attempts, the victim's lost and another replica's
// succeeded; and no other window is recorded.
func checkRecord(info runs.Info, w *windowWatch, last string) error {
	recs := slices.Clone(info.Recent)
	slices.SortFunc(recs, func(a, b runs.Record) int {
		return cmp.Or(strings.Compare(a.Window, b.Window), a.Attempt-b.Attempt)
	})
	say("the job's record (runs.Job.Inspect, times in Redis TIME):")
	fmt.Printf("  %-20s  %-7s  %-9s  %-7s  %-16s  %-12s  %s\n", "window", "attempt", "status", "runner", "fence", "start", "end")
	for _, r := range recs {
		fmt.Printf("  %-20s  %-7d  %-9s  %-7s  %-16d  %-12s  %s\n", r.Window, r.Attempt, r.Status, r.Identity, r.Fence,
			r.Start.Format("15:04:05.000"), r.End.Format("15:04:05.000"))
	}
	byWindow := map[string][]runs.Record{}
	for _, r := range recs {
		byWindow[r.Window] = append(byWindow[r.Window], r)
	}
	first, err := time.Parse(time.RFC3339, w.first)
	if err != nil {
		return fmt.Errorf("window %q: %w", w.first, err)
	}
	end, err := time.Parse(time.RFC3339, last)
	if err != nil {
		return fmt.Errorf("window %q: %w", last, err)
	}
	var errs []error
	n := 0
	for t := first; !t.After(end); t = t.Add(schedEvery) {
		name := runs.WindowName(t)
		errs = append(errs, checkWindow(name, byWindow[name], w))
		delete(byWindow, name)
		n++
	}
	for name := range byWindow {
		errs = append(errs, fmt.Errorf("window %s is recorded, but the scene ran from %s to %s", name, w.first, last))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the record: %w", err)
	}
	var k []runs.Record
	for _, r := range recs {
		if r.Window == w.killed.window {
			k = append(k, r)
		}
	}
	say("record checked: each of the %d windows from %s to %s succeeded exactly once, with no overlap; window %s took 2 attempts: %s's, lost to the kill -9 (its lease ran out at %s), then %s's, started %.1f ms later",
		n, w.first, last, w.killed.window, w.victim, k[0].End.Format("15:04:05.000"), w.retry.replica, ms(k[1].Start.Sub(k[0].End)))
	return nil
}

// checkWindow checks the attempts of one window, sorted by attempt.
func checkWindow(name string, rs []runs.Record, w *windowWatch) error {
	if len(rs) == 0 {
		return fmt.Errorf("window %s: no run recorded: missed", name)
	}
	succeeded := 0
	for i, r := range rs {
		if r.Status == runs.Succeeded {
			succeeded++
		}
		if r.Attempt != i+1 {
			return fmt.Errorf("window %s: attempt %d recorded where attempt %d was due", name, r.Attempt, i+1)
		}
		if i == 0 {
			continue
		}
		p := rs[i-1]
		if p.End.IsZero() || r.Start.Before(p.End) {
			return fmt.Errorf("window %s overlapped: attempt %d started at %s, before attempt %d ended (%s)",
				name, r.Attempt, r.Start.Format("15:04:05.000"), p.Attempt, p.End.Format("15:04:05.000"))
		}
		if r.Fence <= p.Fence {
			return fmt.Errorf("window %s: attempt %d's fence %d is not above attempt %d's %d", name, r.Attempt, r.Fence, p.Attempt, p.Fence)
		}
	}
	if succeeded != 1 {
		return fmt.Errorf("window %s: %d successes recorded, want exactly 1", name, succeeded)
	}
	if name != w.killed.window {
		if len(rs) > 1 {
			say("note: window %s took %d attempts (a lost or failed one: a busy machine?)", name, len(rs))
		}
		return nil
	}
	if len(rs) != 2 || rs[0].Status != runs.Lost || rs[0].Identity != w.victim ||
		rs[1].Status != runs.Succeeded || rs[1].Identity == w.victim {
		return fmt.Errorf("window %s, the killed one: want attempt 1 lost by %s and attempt 2 succeeded on another replica, got %s",
			name, w.victim, attemptsString(rs))
	}
	return nil
}

// attemptsString is rs in a line: "1 lost by sched-1, 2 succeeded by sched-2".
func attemptsString(rs []runs.Record) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%d %s by %s", r.Attempt, r.Status, r.Identity))
	}
	return strings.Join(parts, ", ")
}
