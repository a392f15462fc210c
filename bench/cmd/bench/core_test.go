package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeLog writes a sidecar JSON log of the given lines.
func writeLog(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.log")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHandoverGaps(t *testing.T) {
	a := writeLog(t,
		`{"msg":"started leading","mono_ns":100}`,
		`{"msg":"stopped leading","mono_ns":1000}`,
		`not json`,
		`{"msg":"started leading","mono_ns":5000}`,
	)
	b := writeLog(t,
		`{"msg":"renewed","mono_ns":1200}`,
		`{"msg":"started leading","mono_ns":1500}`,
		`{"msg":"stopped leading","mono_ns":4000}`,
		`{"msg":"started leading"}`, // no stamp: left out
	)
	got, err := handoverGaps(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 → 1500 and 4000 → 5000; the first start follows no stop.
	if want := []time.Duration{500, 1000}; !slices.Equal(got, want) {
		t.Errorf("gaps = %v, want %v", got, want)
	}
	if _, err := handoverGaps(filepath.Join(t.TempDir(), "missing.log")); err == nil {
		t.Error("missing log: no error")
	}
}

func TestLastStart(t *testing.T) {
	p := writeLog(t,
		`{"msg":"started leading","mono_ns":10}`,
		`{"msg":"stopped leading","mono_ns":20}`,
		`{"msg":"started leading","mono_ns":30}`,
		`{"msg":"stopped leading","mono_ns":40}`,
	)
	if got, err := lastStart(p); err != nil || got != 30 {
		t.Errorf("lastStart = %d, %v; want 30", got, err)
	}
	if _, err := lastStart(writeLog(t, `{"msg":"stopped leading","mono_ns":1}`)); err == nil {
		t.Error("log without a start: no error")
	}
}

func TestCoreTable(t *testing.T) {
	c := &CoreResult{CrashTTL: "300ms", IdleTTL: "2s", IdleWindowSeconds: 20, IdleAttemptsPerTTL: 1,
		IdleAttemptsPerSec: 0.5, IdleRSS: 16 << 20, IdleOther: map[string]int64{"ping": 7}}
	c.ElectorGap.N, c.ElectorGap.P99 = 200, 730*time.Microsecond
	got := coreTable(c)
	for _, want := range []string{
		"elector to elector (log stamps), n=200 | p50 0, p99 0.730 ms",
		"(TTL 300ms), n=0",
		"1.00 per TTL (0.500/s); other commands sent 0.000/s (`ping` 7)",
		"| 16.0 MiB | ≤ 30 MiB |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	c.IdleOther = nil
	if got := coreTable(c); !strings.Contains(got, "(none)") {
		t.Errorf("no other commands should read (none):\n%s", got)
	}
}

func TestParseFlagsSteps(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	tests := []struct {
		args     []string
		wantErr  string
		needKube bool
	}{
		// The core step and the sidecar step run without a kube-apiserver.
		{args: []string{"-only", "core", "-out", ""}},
		{args: []string{"-only", "sidecar,core"}},
		{args: []string{"-only", "handover"}, wantErr: "no kube-apiserver"},
		{args: []string{"-only", "handover", "-kube-assets", "/k"}, needKube: true},
		{args: []string{"-only", "handover", "-skip-kube"}},
		{args: []string{"-only", "nope"}, wantErr: `unknown step "nope"`},
		{args: []string{"-rerender", "-out", ""}, wantErr: "-rerender needs -out"},
		{args: []string{"-only", "core", "-core-crashes", "0"}, wantErr: "-core-crashes"},
		{args: []string{"-only", "core", "-core-idle-window", "1s"}, wantErr: "-core-idle-window"},
		// The kube-lease step needs the kube-apiserver, and a TTL its Lease can hold.
		{args: []string{"-only", "kube-lease"}, wantErr: "no kube-apiserver"},
		{args: []string{"-only", "kube-lease", "-kube-assets", "/k"}, needKube: true},
		{args: []string{"-only", "kube-lease", "-kube-assets", "/k", "-kube-lease-ttl", "1s"}, wantErr: "-kube-lease-ttl"},
		{args: []string{"-only", "kube-lease", "-kube-assets", "/k", "-kube-lease-ttl", "2500ms"}, wantErr: "-kube-lease-ttl"},
		{args: []string{"-only", "kube-lease", "-kube-assets", "/k", "-kube-lease-crashes", "0"}, wantErr: "-kube-lease-crashes"},
	}
	for _, tt := range tests {
		c, err := parseFlags(tt.args)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case c.needsKube() != tt.needKube:
			t.Errorf("%v: needsKube = %v, want %v", tt.args, c.needsKube(), tt.needKube)
		}
	}
}

func TestStartAfter(t *testing.T) {
	p := writeLog(t, `{"msg":"started leading","mono_ns":10}`)
	// An earlier term of the same identity is not the one after the kill.
	go func() {
		time.Sleep(20 * time.Millisecond)
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, _ = f.WriteString(`{"msg":"started leading","mono_ns":30}` + "\n")
			_ = f.Close()
		}
	}()
	if got, err := startAfter(t.Context(), p, 20); err != nil || got != 30 {
		t.Errorf("startAfter = %d, %v; want 30", got, err)
	}
}
