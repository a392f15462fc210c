package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/bench/internal/stats"
)

func TestKubeLeaseTableAndTargets(t *testing.T) {
	r := &Results{Meta: Meta{TTL: "1s"}}
	r.handover(idKubeTTL).add([]time.Duration{170 * time.Millisecond})
	r.Idle = append(r.Idle, &IdleCost{Tool: idKube15, WaiterRequestsPerSec: 0.5, WaiterAttemptsPerTTL: 7.5, LeaderWritesPerMin: 30})
	k := &KubeLeaseResult{
		TTL:      "2s",
		Handover: stats.Summary{N: 100, P50: 3 * time.Millisecond, P99: 60 * time.Millisecond, Max: 70 * time.Millisecond},
		Idle: []*KubeLeaseIdle{
			{TTL: "2s", WindowSeconds: 60, FollowerPerLease: 0, LeaderWritesPerMin: 90, Leader: userCounts{Done: map[string]int64{"update": 90}}},
			{TTL: "15s", WindowSeconds: 60, FollowerPerMin: 8, FollowerPerLease: 2, Follower: userCounts{Done: map[string]int64{"get": 8}, WatchOpens: 1}},
		},
	}
	r.KubeLease = k
	table := kubeLeaseTable(k, r)
	for _, want := range []string{
		"n=100: p50 3.00 ms, p99 60.00 ms",
		"n=1: p50 170 ms",                            // client-go at the bench TTL, same run
		"30.0/min",                                   // client-go's leader writes at 15s
		"30.0/min (7.50 per lease; it has no watch)", // client-go's follower at 15s
		"8.00/min (2.00 per lease: `get` 8); watches opened 1",
		"not measured in this run", // client-go's crash rows
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	got := map[string]bool{}
	for _, tg := range r.targets() {
		if strings.Contains(tg.Name, "kube-lease") {
			got[tg.Name] = tg.Pass
		}
	}
	want := map[string]bool{
		"graceful handover p99 (--backend kube-lease, release → follower's term start)": false, // 60 ms > 50 ms
		"idle follower requests beyond its watch (--backend kube-lease, TTL 2s)":        true,
		"idle follower requests beyond its watch (--backend kube-lease, TTL 15s)":       false,
	}
	if len(got) != len(want) {
		t.Fatalf("targets = %v, want %v", got, want)
	}
	for name, pass := range want {
		if p, ok := got[name]; !ok || p != pass {
			t.Errorf("target %q: pass %v (present %v), want %v", name, p, ok, pass)
		}
	}
}

// A run of only the kube-lease step keeps the full run's figures and
// replaces the kube-lease row in the shared tables.
func TestMergePreviousKubeLease(t *testing.T) {
	dir := t.TempDir()
	prev := &Results{Meta: Meta{Date: "full"}, KubeLease: &KubeLeaseResult{TTL: "old"}}
	prev.handover(idBaton).add([]time.Duration{time.Millisecond})
	prev.handover(idKubeLease).add([]time.Duration{time.Second})
	b, err := json.Marshal(prev)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := &Results{Meta: Meta{Date: "now"}, KubeLease: &KubeLeaseResult{TTL: "new"}}
	res.handover(idKubeLease).add([]time.Duration{2 * time.Millisecond})
	res.crash(idKubeLease, 2*time.Second).add([]time.Duration{time.Second}, []time.Duration{time.Millisecond})
	merged, err := mergePrevious(dir, &config{only: map[string]bool{"kube-lease": true}}, res)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case merged.findHandover(idBaton) == nil || merged.Meta.Date != "full":
		t.Errorf("the full run's figures are gone")
	case merged.KubeLease.TTL != "new" || len(merged.Handover) != 2:
		t.Errorf("kube-lease = %+v, %d handover series; want this run's and 2", merged.KubeLease, len(merged.Handover))
	case merged.findHandover(idKubeLease).Summary.Max != 2*time.Millisecond || merged.findCrash(idKubeLease) == nil:
		t.Errorf("the kube-lease row is not this run's")
	}
}

func TestHandoverSplit(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	ms := func(v float64) time.Time { return t0.Add(time.Duration(v * float64(time.Millisecond))) }
	write := func(user string, recv, done float64) string {
		ev := auditLine("ResponseComplete", "update", user, "l", 200, ms(recv))
		return strings.Replace(ev, "}\n", `,"stageTimestamp":"`+ms(done).Format(time.RFC3339Nano)+`"}`+"\n", 1)
	}
	log := write("leader", -300, -298) + // a renewal before the release call
		write("leader", 0.5, 2.5) + // the release
		write("follower", 3.25, 6) + // the acquiring Update
		write("leader", 600, 601) // not looked at
	evs, _, err := parseAudit(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	rel, ok1 := firstWrite(evs, "leader", "l", t0)
	acq, ok2 := firstWrite(evs, "follower", "l", t0)
	if _, ok := firstWrite(evs, "follower", "l", ms(7)); !ok1 || !ok2 || ok {
		t.Fatalf("firstWrite: %v %v %v", ok1, ok2, ok)
	}
	got := handoverSplit(t0, rel, acq, ms(7))
	want := [...]time.Duration{500 * time.Microsecond, 2 * time.Millisecond, 750 * time.Microsecond, 2750 * time.Microsecond, time.Millisecond}
	if got != want {
		t.Errorf("split = %v, want %v", got, want)
	}
}
