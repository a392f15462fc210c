package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// auditLine is an audit event as kube-apiserver writes it (Metadata level).
func auditLine(stage, verb, user, name string, code int, at time.Time) string {
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "stage": stage, "verb": verb,
		"user":                     map[string]any{"username": user, "groups": []string{"system:masters"}},
		"objectRef":                map[string]any{"resource": "leases", "namespace": "default", "name": name, "apiGroup": "coordination.k8s.io"},
		"requestReceivedTimestamp": at.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
	if code != 0 {
		ev["responseStatus"] = map[string]any{"metadata": map[string]any{}, "code": code}
	}
	b, _ := json.Marshal(ev)
	return string(b) + "\n"
}

func TestParseAudit(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 11, 0, 0, 123456000, time.UTC)
	full := auditLine("ResponseComplete", "update", "a", "l", 200, t0)
	tests := []struct {
		name     string
		in       string
		wantN    int
		wantUsed int
		wantErr  string
	}{
		{"empty", "", 0, 0, ""},
		{"one line", full, 1, len(full), ""},
		{"a line still being written is left", full + full[:20], 1, len(full), ""},
		{"blank lines", "\n" + full, 1, len(full) + 1, ""},
		{"garbage", "{not json\n", 0, 10, "audit log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, used, err := parseAudit(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(evs) != tt.wantN || used != int64(tt.wantUsed) {
				t.Fatalf("got %d events, %d bytes, %v; want %d, %d", len(evs), used, err, tt.wantN, tt.wantUsed)
			}
			if tt.wantN > 0 && (evs[0].Verb != "update" || evs[0].User.Username != "a" || evs[0].name() != "l" ||
				evs[0].code() != 200 || !evs[0].Received.Equal(t0)) {
				t.Errorf("event = %+v", evs[0])
			}
		})
	}
}

func TestAuditTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	at := time.Now()
	line := auditLine("ResponseComplete", "get", "a", "l", 200, at)
	if err := os.WriteFile(path, []byte(line+line[:30]), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &auditTail{path: path}
	if err := a.poll(); err != nil || len(a.events) != 1 {
		t.Fatalf("first poll: %d events, %v; want 1", len(a.events), err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line[30:] + line); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := a.poll(); err != nil || len(a.events) != 3 {
		t.Fatalf("second poll: %d events, %v; want 3 (the finished line and a new one)", len(a.events), err)
	}
}

func TestCountAudit(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var log strings.Builder
	for _, l := range []string{
		auditLine("ResponseComplete", "update", "leader", "l", 200, at(-0.1)), // before the window
		auditLine("ResponseComplete", "update", "leader", "l", 200, at(0)),
		auditLine("ResponseComplete", "update", "leader", "l", 409, at(1)),
		auditLine("ResponseComplete", "get", "leader", "l", 200, at(1.1)),
		auditLine("ResponseStarted", "watch", "follower", "l", 200, at(2)),
		auditLine("ResponseComplete", "watch", "follower", "l", 200, at(2)), // the watch ends
		auditLine("ResponseComplete", "get", "follower", "l", 200, at(3)),
		auditLine("ResponseComplete", "get", "follower", "other", 200, at(3)), // another Lease
		auditLine("ResponseComplete", "update", "leader", "l", 200, at(10)),   // at the window's end
	} {
		log.WriteString(l)
	}
	evs, _, err := parseAudit(strings.NewReader(log.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := countAudit(evs, "l", t0, at(10))
	l, f := got["leader"], got["follower"]
	switch {
	case len(got) != 2 || l == nil || f == nil:
		t.Fatalf("users = %v", got)
	case l.Done["update"] != 2 || l.Done["get"] != 1 || l.Failed != 1 || l.beyondWatch() != 3 || l.WatchOpens != 0:
		t.Errorf("leader = %+v", *l)
	case f.WatchOpens != 1 || f.Done["watch"] != 1 || f.beyondWatch() != 1 || f.Failed != 0:
		t.Errorf("follower = %+v", *f)
	}
	tests := []struct {
		user, name string
		want       bool
	}{
		{"follower", "l", false}, // its watch opened and ended
		{"leader", "l", false},
	}
	for _, tt := range tests {
		if got := watching(evs, tt.user, tt.name); got != tt.want {
			t.Errorf("watching(%s, %s) = %v, want %v", tt.user, tt.name, got, tt.want)
		}
	}
	open := auditLine("ResponseStarted", "watch", "follower", "l", 200, at(4))
	more, _, err := parseAudit(strings.NewReader(open))
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, more...)
	if !watching(evs, "follower", "l") || watching(evs, "follower", "other") {
		t.Errorf("a watch opened again is not seen")
	}
}
