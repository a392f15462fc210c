package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// auditPolicy has the kube-apiserver record every request on a Lease at
// the Metadata level (who, verb, object, status, times) and nothing else.
// RequestReceived is left out: ResponseComplete is one line per request,
// and a watch adds one ResponseStarted line when it opens.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: coordination.k8s.io
    resources: ["leases"]
- level: None
`

// auditEvent is the part of an audit.k8s.io/v1 Event that the counts use.
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Received time.Time `json:"requestReceivedTimestamp"`
	// Stamp is when the stage happened: for ResponseComplete, when the
	// answer was ready.
	Stamp time.Time `json:"stageTimestamp"`
}

// name is the Lease the event is about ("" for a list or watch of many).
func (ev auditEvent) name() string {
	if ev.ObjectRef == nil {
		return ""
	}
	return ev.ObjectRef.Name
}

// code is the answer's HTTP status (0 when the event has none).
func (ev auditEvent) code() int {
	if ev.ResponseStatus == nil {
		return 0
	}
	return ev.ResponseStatus.Code
}

// parseAudit reads the complete lines of an audit log (a line without its
// newline yet is left for the next read) and returns their events and the
// bytes consumed.
func parseAudit(r io.Reader) ([]auditEvent, int64, error) {
	var (
		out  []auditEvent
		used int64
	)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, used, nil
		}
		if err != nil {
			return out, used, err
		}
		used += int64(len(line))
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var ev auditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return out, used, fmt.Errorf("audit log: %w: %.200s", err, line)
		}
		out = append(out, ev)
	}
}

// auditTail reads an audit log as it grows.
type auditTail struct {
	path   string
	offset int64
	events []auditEvent
}

// poll reads the events written since the last poll and keeps them.
func (a *auditTail) poll() error {
	f, err := os.Open(a.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return err
	}
	evs, n, err := parseAudit(f)
	a.offset += n
	a.events = append(a.events, evs...)
	return err
}

// userCounts are one user's requests on one Lease, per verb.
type userCounts struct {
	// Done are the requests that completed (stage ResponseComplete), by
	// verb; a watch counts here when it ends.
	Done map[string]int64 `json:"done"`
	// WatchOpens are the watches opened (stage ResponseStarted).
	WatchOpens int64 `json:"watch_opens"`
	// Failed are the completed requests answered with a status ≥ 400
	// (conflicts among them).
	Failed int64 `json:"failed"`
}

// beyondWatch are the completed requests other than watches.
func (u userCounts) beyondWatch() int64 {
	var n int64
	for verb, v := range u.Done {
		if verb != "watch" {
			n += v
		}
	}
	return n
}

// countAudit counts the requests on Lease name received in [from, to),
// per user.
func countAudit(evs []auditEvent, name string, from, to time.Time) map[string]*userCounts {
	out := map[string]*userCounts{}
	for _, ev := range evs {
		if ev.name() != name || ev.Received.Before(from) || !ev.Received.Before(to) {
			continue
		}
		u := out[ev.User.Username]
		if u == nil {
			u = &userCounts{Done: map[string]int64{}}
			out[ev.User.Username] = u
		}
		switch ev.Stage {
		case "ResponseStarted":
			if ev.Verb == "watch" {
				u.WatchOpens++
			}
		case "ResponseComplete":
			u.Done[ev.Verb]++
			if ev.code() >= 400 {
				u.Failed++
			}
		}
	}
	return out
}

// firstWrite is user's first completed update of Lease name received at
// or after t (ok false when there is none yet).
func firstWrite(evs []auditEvent, user, name string, t time.Time) (auditEvent, bool) {
	for _, ev := range evs {
		if ev.Stage == "ResponseComplete" && ev.Verb == "update" && ev.User.Username == user &&
			ev.name() == name && !ev.Received.Before(t) {
			return ev, true
		}
	}
	return auditEvent{}, false
}

// watching reports whether user holds a watch on Lease name: it opened
// more watches (ResponseStarted) than ended (ResponseComplete).
func watching(evs []auditEvent, user, name string) bool {
	var open int
	for _, ev := range evs {
		if ev.Verb != "watch" || ev.User.Username != user || ev.name() != name {
			continue
		}
		switch ev.Stage {
		case "ResponseStarted":
			open++
		case "ResponseComplete":
			open--
		}
	}
	return open > 0
}
