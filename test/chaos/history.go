package chaos

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
)

// Term is one leadership interval of one replica instance, on
// CLOCK_MONOTONIC nanoseconds.
type Term struct {
	Instance string
	Fence    uint64
	Start    int64
	// End is the earlier of the logged step-down and the term's validity
	// deadline, or the moment the harness saw a killed process die. Open is
	// true while neither has happened.
	End    int64
	Open   bool
	Reason string
}

// Heal is a fault that ended at At; a leader must exist again within
// Bound.
type Heal struct {
	Kind  string
	At    int64
	Bound time.Duration
}

// History records terms and heals; it is safe for concurrent use.
type History struct {
	mu      sync.Mutex
	terms   []*Term
	open    map[string]*Term
	heals   []Heal
	faults  map[string]int
	events  []faultEvent
	stuck   []string
	errs    []string
	changed chan struct{}
}

// NewHistory returns an empty history.
func NewHistory() *History {
	return &History{open: map[string]*Term{}, faults: map[string]int{}, changed: make(chan struct{})}
}

func (h *History) notify() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// logLine is the part of a sidecar's JSON log line that the history uses.
type logLine struct {
	Msg        string `json:"msg"`
	Fence      uint64 `json:"fence"`
	MonoNS     int64  `json:"mono_ns"`
	ValidUntil int64  `json:"valid_until_mono_ns"`
	Reason     string `json:"reason"`
}

// Line feeds one log line of instance into the history. Lines other than
// the two transition lines are ignored.
func (h *History) Line(instance string, line []byte) {
	var l logLine
	if json.Unmarshal(line, &l) != nil {
		return
	}
	switch l.Msg {
	case "started leading":
		h.Started(instance, l.Fence, l.MonoNS)
	case "stopped leading":
		end := l.MonoNS
		if l.ValidUntil != 0 && l.ValidUntil < end {
			end = l.ValidUntil
		}
		h.Stopped(instance, l.Fence, end, l.Reason)
	}
}

// Started opens a term.
func (h *History) Started(instance string, fence uint64, mono int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.open[instance]; t != nil {
		h.errs = append(h.errs, fmt.Sprintf("%s started term %d while term %d was open", instance, fence, t.Fence))
	}
	t := &Term{Instance: instance, Fence: fence, Start: mono, Open: true}
	h.terms = append(h.terms, t)
	h.open[instance] = t
	h.notify()
}

// Stopped closes the open term of instance at end.
func (h *History) Stopped(instance string, fence uint64, end int64, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.open[instance]
	if t == nil || t.Fence != fence {
		h.errs = append(h.errs, fmt.Sprintf("%s stopped term %d that was not open", instance, fence))
		return
	}
	t.End, t.Open, t.Reason = end, false, reason
	delete(h.open, instance)
	h.notify()
}

// Killed closes the open term of a killed instance, if any, at mono.
func (h *History) Killed(instance string, mono int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.open[instance]; t != nil {
		t.End, t.Open, t.Reason = mono, false, "killed"
		delete(h.open, instance)
	}
	h.notify()
}

// faultEvent is one injected fault and when.
type faultEvent struct {
	kind string
	at   int64
}

// Fault counts one injected fault of kind.
func (h *History) Fault(kind string) {
	at := clocks.MonotonicNS()
	h.mu.Lock()
	h.faults[kind]++
	h.events = append(h.events, faultEvent{kind, at})
	h.mu.Unlock()
}

// FaultsBefore lists the faults injected in the window before at, each
// with how long before at it came, for a report on a violation.
func (h *History) FaultsBefore(at int64, window time.Duration) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.events {
		if d := time.Duration(at - ev.at); d >= 0 && d <= window {
			out = append(out, fmt.Sprintf("%s %v before", ev.kind, d.Round(time.Millisecond)))
		}
	}
	return out
}

// Declare lists fault kinds with a count of 0 until they are injected, so
// that a report shows a kind that never came up.
func (h *History) Declare(kinds ...string) {
	h.mu.Lock()
	for _, k := range kinds {
		if _, ok := h.faults[k]; !ok {
			h.faults[k] = 0
		}
	}
	h.mu.Unlock()
}

// Stuck records a replica that took longer than bound to exit after
// SIGTERM.
func (h *History) Stuck(instance string, took, bound time.Duration) {
	h.mu.Lock()
	h.stuck = append(h.stuck, fmt.Sprintf("%s took %v to exit after SIGTERM, bound %v", instance, took.Round(time.Millisecond), bound))
	h.mu.Unlock()
}

// StuckReplicas lists the replicas recorded by Stuck.
func (h *History) StuckReplicas() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.stuck...)
}

// Healed records that a fault ended now: a leader must exist within bound.
func (h *History) Healed(kind string, bound time.Duration) {
	h.mu.Lock()
	h.heals = append(h.heals, Heal{Kind: kind, At: clocks.MonotonicNS(), Bound: bound})
	h.mu.Unlock()
}

// Open returns the instances with an open term and their fences.
func (h *History) Open() map[string]uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]uint64, len(h.open))
	for id, t := range h.open {
		out[id] = t.Fence
	}
	return out
}

// Terms is the number of terms recorded so far.
func (h *History) Terms() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.terms)
}

// Changed is closed at the next recorded event.
func (h *History) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// Snapshot copies the terms (open ones end at now), heals, fault counts and
// recording errors.
func (h *History) Snapshot() ([]Term, []Heal, map[string]int, []string) {
	now := clocks.MonotonicNS()
	h.mu.Lock()
	defer h.mu.Unlock()
	terms := make([]Term, len(h.terms))
	for i, t := range h.terms {
		terms[i] = *t
		if t.Open {
			terms[i].End = now
		}
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i].Start < terms[j].Start })
	faults := make(map[string]int, len(h.faults))
	for k, v := range h.faults {
		faults[k] = v
	}
	return terms, append([]Heal(nil), h.heals...), faults, append([]string(nil), h.errs...)
}
