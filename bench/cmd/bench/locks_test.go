package main

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/bench/internal/stats"
	"github.com/baton-dev/baton/internal/redistest"
)

func TestJain(t *testing.T) {
	tests := []struct {
		xs   []int
		want float64
	}{
		{[]int{5, 5, 5, 5}, 1},
		{[]int{10, 0, 0, 0}, 0.25},
		{[]int{1, 3}, 0.8}, // 16 / (2·10)
		{nil, 0},
		{[]int{0, 0}, 0},
	}
	for _, tt := range tests {
		if got := jain(tt.xs); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("jain(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestOrderViolations(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	g := func(who, sent, replied int) grant { return grant{who: who, enqSent: at(sent), enqReplied: at(replied)} }
	tests := []struct {
		name    string
		grants  []grant
		pending []grant
		want    int
	}{
		{"arrival order", []grant{g(0, 0, 1), g(1, 2, 3), g(2, 4, 5)}, nil, 0},
		{"one overtakes", []grant{g(0, 0, 1), g(2, 4, 5), g(1, 2, 3)}, nil, 1},
		{"overlapping brackets have no order", []grant{g(1, 2, 5), g(0, 1, 4)}, nil, 0},
		{"the last arrival overtakes two", []grant{g(2, 6, 7), g(0, 0, 1), g(1, 2, 3)}, nil, 1},
		{"overtaking a waiter left at the end", []grant{g(0, 0, 1), g(1, 4, 5)}, []grant{g(2, 2, 3)}, 1},
		{"a waiter that came last and is still waiting", []grant{g(0, 0, 1)}, []grant{g(1, 2, 3)}, 0},
	}
	for _, tt := range tests {
		if got := orderViolations(tt.grants, tt.pending); got != tt.want {
			t.Errorf("%s: %d violations, want %d", tt.name, got, tt.want)
		}
	}
}

func TestLockTargets(t *testing.T) {
	l := &LocksResult{
		Ops: []*LockOps{
			{Tool: idLockFloor, Clients: 1, PerSec: 1000},
			{Tool: idLockLease, Clients: 1, PerSec: 850},
			{Tool: idLockWatchdog, Clients: 1, PerSec: 790},
			{Tool: idLockFair, Clients: 1, PerSec: 800},
			{Tool: idLockSidecar, Clients: 1, PerSec: 400},
		},
		Handoff: []*LockHandoff{
			{Tool: idLockLease, Clients: 10, Latency: stats.Summary{N: 10, P99: 2 * time.Millisecond}, ServerPerHandoff: 20},
			{Tool: idLockFair, Clients: 10, Latency: stats.Summary{N: 10, P99: 1 * time.Millisecond}, ServerPerHandoff: 30},
			{Tool: idLockLease, Clients: 100, Latency: stats.Summary{N: 10, P99: 6 * time.Millisecond}, ServerPerHandoff: 200},
			{Tool: idLockFair, Clients: 100, Latency: stats.Summary{N: 10, P99: 5 * time.Millisecond}, ServerPerHandoff: 40, Overlaps: 1},
		},
		Fairness: []*LockFairness{{Tool: idLockFair, Clients: 10, Seconds: 60, Grants: 100, Jain: 0.995}},
	}
	want := map[string]bool{
		"uncontended ops/s, baton-trylock, 1 client(s)":                                     true,
		"uncontended ops/s, baton-trylock-watchdog, 1 client(s)":                            false,
		"uncontended ops/s, baton-fair, 1 client(s)":                                        true,
		"uncontended ops/s, baton-sidecar-locks, 1 client(s)":                               true,
		"contended hand-off p99, baton-trylock, 10 clients":                                 true,
		"contended hand-off p99, baton-fair, 10 clients":                                    true,
		"contended hand-off p99, baton-trylock, 100 clients":                                false,
		"contended hand-off p99, baton-fair, 100 clients":                                   true,
		"fair: Redis commands per hand-off flat from 10 to 100 clients (O(1))":              true,
		"fair: Jain's index, 10 clients, 60 s":                                              true,
		"fair: FIFO order violations":                                                       true,
		"mutual exclusion: grants while another client held the lock (every contended run)": false,
	}
	got := l.targets()
	for _, tg := range got {
		w, ok := want[tg.Name]
		if !ok {
			t.Errorf("unexpected target %q", tg.Name)
			continue
		}
		if tg.Pass != w {
			t.Errorf("target %q: pass = %v, want %v (%s)", tg.Name, tg.Pass, w, tg.Got)
		}
		delete(want, tg.Name)
	}
	for name := range want {
		t.Errorf("no target %q", name)
	}
	if table := targetTable(got); !strings.Contains(table, "| 79% (790 vs 1000 ops/s) | FAIL |") {
		t.Errorf("table lacks the watchdog's FAIL row:\n%s", table)
	}
	l.Fairness = nil
	for _, tg := range l.targets() {
		if strings.HasPrefix(tg.Name, "fair: Jain") && (tg.Pass || tg.Got != "not measured") {
			t.Errorf("no fairness run: %+v, want not measured and failed", tg)
		}
	}
}

func TestParseFlagsLocks(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	c, err := parseFlags([]string{"-only", "locks", "-locks-op-clients", "2,4", "-locks-fair-duration", "5s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.needsKube() || c.locks.fairDuration != 5*time.Second || len(c.locks.opClients) != 2 || c.locks.opClients[1] != 4 {
		t.Errorf("config = %+v, needsKube %v", c.locks, c.needsKube())
	}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-only", "locks", "-locks-handoff-clients", "1"}, "cannot hand off"},
		{[]string{"-only", "locks", "-locks-op-clients", "0"}, "not a count"},
		{[]string{"-only", "locks", "-locks-fair-clients", "1"}, "-locks-fair-clients"},
		{[]string{"-only", "locks", "-locks-hold", "2s"}, "-locks-hold"},
		{[]string{"-only", "locks", "-locks-op-rounds", "0"}, "-locks-op-rounds"},
	} {
		if _, err := parseFlags(tt.args); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestMergePrevious(t *testing.T) {
	dir := t.TempDir()
	prev := &Results{Meta: Meta{Date: "full", Steps: []StepTime{{"graceful handover", 100}, {"application locks", 1}}},
		Core: &CoreResult{CrashTTL: "old"}, Locks: &LocksResult{Hold: "old"}}
	prev.handover(idBaton).add([]time.Duration{time.Millisecond})
	b, err := json.Marshal(prev)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := &Results{Meta: Meta{Date: "now", CommandLine: "-only locks", Steps: []StepTime{{"application locks", 7}}}, Locks: &LocksResult{Hold: "new"}}
	merged, err := mergePrevious(dir, &config{only: map[string]bool{"locks": true}}, res)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case merged.Meta.Date != "full" || merged.findHandover(idBaton) == nil || merged.Core.CrashTTL != "old":
		t.Errorf("the full run's figures are gone: %+v", merged.Meta)
	case merged.Locks.Hold != "new":
		t.Errorf("locks = %+v, want this run's", merged.Locks)
	case len(merged.Meta.Updates) != 1 || merged.Meta.Updates[0].Date != "now" || merged.Meta.Updates[0].Steps[0] != "locks":
		t.Errorf("updates = %+v", merged.Meta.Updates)
	case len(merged.Meta.Steps) != 2 || merged.Meta.Steps[1].Seconds != 7:
		t.Errorf("steps = %+v, want the locks step's time replaced", merged.Meta.Steps)
	}
	// A second run of the same step supersedes the first update.
	again, err := mergePrevious(dir, &config{only: map[string]bool{"locks": true}}, res)
	if err != nil || len(again.Meta.Updates) != 1 {
		t.Errorf("again: %v, %+v", err, again)
	}
	// Steps whose figures share fields with others write this run only.
	for _, only := range []map[string]bool{nil, {"handover": true}, {"locks": true, "crash": true}} {
		if got, err := mergePrevious(dir, &config{only: only}, res); err != nil || got != res {
			t.Errorf("only %v: merged (%v), want this run's results", only, err)
		}
	}
	if got, err := mergePrevious(t.TempDir(), &config{only: map[string]bool{"locks": true}}, res); err != nil || got != res {
		t.Errorf("no results.json: %v, want this run's results", err)
	}
}

// TestLocksSmoke runs the locks step's three parts briefly against a real
// redis-server (the sidecar's rows are left out: no binary), so that the
// wiring of every tool stays working. Its figures mean nothing. The
// fairness runs last 3s: redsync retries after 50-250ms, and on 2 busy
// cores a shorter run can end before its first hand-off.
func TestLocksSmoke(t *testing.T) {
	srv := redistest.Start(t)
	cfg, err := parseFlags([]string{"-only", "locks", "-bsm-backoff", "5ms",
		"-locks-op-clients", "1,2", "-locks-op-duration", "200ms", "-locks-op-rounds", "1",
		"-locks-handoff-clients", "3", "-locks-handoffs", "5", "-locks-handoff-limit", "1s",
		"-locks-fair-clients", "3", "-locks-fair-duration", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: cfg, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), redis: srv.Process}
	e.admin = redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = e.admin.Close() })
	res := &Results{}
	if err := runLocks(t.Context(), e, res); err != nil {
		t.Fatal(err)
	}
	l := res.Locks
	if len(l.Ops) != 2*6 || len(l.Handoff) != 5 || len(l.Fairness) != 4 {
		t.Fatalf("rows: %d uncontended, %d hand-off, %d fairness; want 12, 5, 4", len(l.Ops), len(l.Handoff), len(l.Fairness))
	}
	for _, o := range l.Ops {
		if o.Ops == 0 {
			t.Errorf("%s, %d clients: no acquire+release", o.Tool, o.Clients)
		}
	}
	for _, h := range l.Handoff {
		if h.Latency.N == 0 || h.ServerPerHandoff <= 0 || h.Overlaps != 0 {
			t.Errorf("%s: %+v", h.Tool, h)
		}
	}
	for _, f := range l.Fairness {
		if f.Grants == 0 || f.Overlaps != 0 {
			t.Errorf("%s: %+v", f.Tool, f)
		}
	}
	if f := l.fairness(idLockFair); f != nil && f.Violations != 0 {
		t.Errorf("fair lock: %d order violations in %d grants", f.Violations, f.Grants)
	}
	res.finish()
	if err := writePlots(t.TempDir(), res); err != nil {
		t.Errorf("plots: %v", err)
	}
	if md := markdown(res); !strings.Contains(md, "## Application locks") {
		t.Error("results.md lacks the locks section")
	}
}
