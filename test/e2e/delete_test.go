//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// deleteLeader is scenarios 2 (the native sidecar's order, from the
// containers' own logs) and 3 (the time from deleting the leader pod to
// the next leader).
func (b *batch) deleteLeader(t *testing.T) {
	b.need(t)
	s := b.s
	leader, ok := b.waitOneLeader(t, 30*time.Second)
	if !ok {
		t.Fatalf("no single leader\n%s", s.describe(b.ns))
	}
	since := time.Now()
	// Start-up order of the pods of the install: baton answered before the
	// app's first request.
	s.logs.Poll()
	batonLines := s.logs.Lines(b.ns, b.fullname(), "baton")
	appLines := s.logs.Lines(b.ns, b.fullname(), "app")
	startOK, startMsg := true, ""
	var gaps []string
	for _, p := range s.pods(t, b.ns, b.selector()) {
		up, ok1 := find(batonLines, p.Name, time.Time{}, "baton starting")
		var firstApp time.Time
		for _, l := range appLines {
			if l.Pod == p.Name {
				firstApp = l.Time
				break
			}
		}
		if u := grepLines(filterPod(appLines, p.Name), "sidecar unreachable"); len(u) > 0 {
			startOK, startMsg = false, "app could not reach baton: "+u[0]
		}
		if !ok1 {
			startOK, startMsg = false, "no \"baton starting\" line for "+p.Name
			continue
		}
		if !firstApp.IsZero() {
			if !firstApp.After(up.Time) {
				startOK, startMsg = false, "app logged before baton started in "+p.Name
			}
			gaps = append(gaps, firstApp.Sub(up.Time).Round(time.Millisecond).String())
		}
	}

	deleted := time.Now()
	if err := s.c.Client.CoreV1().Pods(b.ns).Delete(s.ctx, leader.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete %s: %v", leader.Name, err)
	}
	// Wait for the old pod to be gone and a new single leader.
	if err := poll(s.ctx, 60*time.Second, func() bool {
		_, err := s.c.Client.CoreV1().Pods(b.ns).Get(s.ctx, leader.Name, metav1.GetOptions{})
		return err != nil
	}); err != nil {
		t.Fatalf("%s not gone\n%s", leader.Name, s.describe(b.ns))
	}
	next, ok := b.waitOneLeader(t, 60*time.Second)
	if !ok {
		t.Fatalf("no single leader after the delete\n%s", s.describe(b.ns))
	}
	time.Sleep(300 * time.Millisecond)
	s.logs.Poll()
	batonLines = s.logs.Lines(b.ns, b.fullname(), "baton")
	appLines = s.logs.Lines(b.ns, b.fullname(), "app")

	// Scenario 2: on deletion the app stops first, while /leader still
	// answers; then baton stops and hands over.
	appStop, ok1 := find(appLines, leader.Name, deleted, "no longer leading")
	batonTerm, ok2 := find(batonLines, leader.Name, deleted, "shutting down")
	batonStop, ok3 := find(batonLines, leader.Name, deleted, "baton stopped")
	newLead, ok4 := find(batonLines, next.Name, deleted, "started leading")
	var lastLeaderAnswer time.Time
	b.ls.mu.Lock()
	for k, iv := range b.ls.terms {
		if k.Pod == leader.Name && iv.To.After(lastLeaderAnswer) {
			lastLeaderAnswer = iv.To
		}
	}
	b.ls.mu.Unlock()
	orderOK := ok1 && ok2 && ok3 && ok4 && appStop.Time.Before(batonTerm.Time) &&
		!lastLeaderAnswer.Before(appStop.Time) && batonTerm.Time.Before(batonStop.Time) && !newLead.Time.Before(batonTerm.Time)
	b.report(t, 2, "native sidecar order", orderOK && startOK,
		"start: baton up before the app's first line in every pod (gaps %s)%s; delete: app stopped %v before baton's SIGTERM, /leader still answered leader %v after the app stopped, baton stopped %v after its SIGTERM, next leader %s started %v after the old baton's SIGTERM (found: app stop %v, SIGTERM %v, stopped %v, new term %v)",
		strings.Join(gaps, ", "), startMsg, batonTerm.Time.Sub(appStop.Time).Round(time.Millisecond),
		lastLeaderAnswer.Sub(appStop.Time).Round(time.Millisecond), batonStop.Time.Sub(batonTerm.Time).Round(time.Millisecond),
		next.Name, newLead.Time.Sub(batonTerm.Time).Round(time.Millisecond), ok1, ok2, ok3, ok4)

	// Scenario 3: the time to the next leader, by label and by the app.
	byLabel, labelled, okL := b.pw.FirstLeaderAfter(deleted, leader.Name)
	work, okW := firstWorkAfter(appLines, deleted, leader.Name)
	overlaps := b.pw.Overlaps(since)
	pass := okL && okW && len(overlaps) == 0
	b.report(t, 3, "delete the leader pod", pass,
		"next leader %s by label %v after the delete, its app started work %v after the delete; of that: the old app stopped %v after the delete, the kubelet sent baton SIGTERM %v later, the new term started %v after that (baton to baton); pods labelled leader at once: %v",
		labelled, byLabel.Sub(deleted).Round(time.Millisecond), work.Time.Sub(deleted).Round(time.Millisecond),
		appStop.Time.Sub(deleted).Round(time.Millisecond), batonTerm.Time.Sub(appStop.Time).Round(time.Millisecond),
		newLead.Time.Sub(batonTerm.Time).Round(time.Millisecond), overlapsOrNone(overlaps))
	b.figure("hand-over after deleting the leader pod (baton to baton: old SIGTERM to new term)", "%v", newLead.Time.Sub(batonTerm.Time).Round(time.Millisecond))
	b.figure("hand-over after deleting the leader pod (by label)", "%v", byLabel.Sub(deleted).Round(time.Millisecond))
	b.figure("hand-over after deleting the leader pod (new app working)", "%v", work.Time.Sub(deleted).Round(time.Millisecond))
}

func filterPod(lines []harnessLogLine, pod string) []harnessLogLine {
	var out []harnessLogLine
	for _, l := range lines {
		if l.Pod == pod {
			out = append(out, l)
		}
	}
	return out
}

func overlapsOrNone(o []overlapWindow) string {
	if len(o) == 0 {
		return "never two"
	}
	var parts []string
	for _, w := range o {
		parts = append(parts, w.String())
	}
	return "TWO OR MORE: " + strings.Join(parts, "; ")
}
