package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/bench/internal/stats"
)

func TestParseStamp(t *testing.T) {
	tests := []struct {
		line    string
		want    childStamp
		wantErr bool
	}{
		{line: "start 100 7 42", want: childStamp{start: true, mono: 100, fence: 7, pid: 42}},
		{line: "stop 200 42", want: childStamp{mono: 200, pid: 42}},
		{line: "start 100 42", wantErr: true}, // no fence
		{line: "stop 200", wantErr: true},
		{line: "stop x 42", wantErr: true},
		{line: "start 100 -1 42", wantErr: true},
		{line: "begin 1 2 3", wantErr: true},
		{line: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStamp(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseStamp(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("parseStamp(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestReadStamps(t *testing.T) {
	dir := t.TempDir()
	if ss, err := readStamps(filepath.Join(dir, "missing")); err != nil || len(ss) != 0 {
		t.Errorf("missing file: %v, %v; want no stamps and no error", ss, err)
	}
	p := filepath.Join(dir, "s")
	// The last line is still being written: it is not read yet.
	if err := os.WriteFile(p, []byte("start 1 5 9\nstop 2 9\nstart 3"), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := readStamps(p)
	if err != nil || len(ss) != 2 || !ss[0].start || ss[1].start || ss[1].mono != 2 {
		t.Errorf("readStamps = %+v, %v; want start 1 then stop 2", ss, err)
	}
	if err := os.WriteFile(p, []byte("start 1 5 9\ngarbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readStamps(p); err == nil {
		t.Error("bad line: no error")
	}
}

func TestReapedMono(t *testing.T) {
	p := writeLog(t,
		`{"time":"2026-01-01T00:00:00.000000000Z","msg":"stopped leading","mono_ns":1000}`,
		`{"time":"2026-01-01T00:00:01.000000000Z","msg":"child stopped"}`,
		`{"time":"2026-01-01T00:00:05.000000000Z","msg":"stopped leading","mono_ns":9000000000}`,
		`{"time":"2026-01-01T00:00:05.002000000Z","msg":"child stopped"}`,
	)
	// The last pair: 2ms after the stamp of the last "stopped leading".
	if got, err := reapedMono(p); err != nil || got != 9002000000 {
		t.Errorf("reapedMono = %d, %v; want 9002000000", got, err)
	}
	if _, err := reapedMono(writeLog(t, `{"time":"2026-01-01T00:00:00Z","msg":"stopped leading","mono_ns":5}`)); err == nil {
		t.Error("no \"child stopped\": no error")
	}
	if _, err := reapedMono(writeLog(t, `{"time":"2026-01-01T00:00:00Z","msg":"child stopped"}`)); err == nil {
		t.Error("no \"stopped leading\": no error")
	}
}

func TestExecTable(t *testing.T) {
	x := &ExecResult{
		Handoff:     stats.Summarize([]time.Duration{6 * time.Millisecond}),
		BeyondExit:  stats.Summarize([]time.Duration{5 * time.Millisecond}),
		KillLatency: stats.Summarize([]time.Duration{-50 * time.Microsecond, 150 * time.Microsecond}),
		Startup:     stats.Summarize([]time.Duration{14 * time.Millisecond}),
		FirstStart:  2015 * time.Millisecond,
		LeaseTTL:    "2s",
		RSS:         17 << 20,
	}
	got := execTable(x)
	for _, want := range []string{
		"| Figure | Measured | Target |",
		"n=1 | p50 6.00 ms",
		"| p50 5.00 ms, p99 5.00 ms, max 5.00 ms | p99 ≤ 10 ms |",
		"n=2 | p50 −0.050 ms",
		"| 17.0 MiB | ≤ 30 MiB |",
		"never seen (its first term waits one lease TTL, 2s) | 2015",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
