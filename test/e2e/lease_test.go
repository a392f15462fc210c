//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/baton-dev/baton/pkg/kubelease"
)

// The kubeLease release runs scenarios 1 to 5 as 10 to 14, and 15 checks
// the Lease object itself and the Role's rules on it.
const kubeLeaseOffset = 9

// report is suite.report, numbered and named for the release's backend.
func (b *batch) report(t *testing.T, n int, name string, pass bool, format string, args ...any) {
	t.Helper()
	if b.kubeLease {
		n, name = n+kubeLeaseOffset, name+" on kube-lease"
	}
	b.s.report(t, n, name, pass, format, args...)
}

// figure is suite.figure, named for the release's backend.
func (b *batch) figure(name, format string, args ...any) {
	if b.kubeLease {
		name += ", kube-lease"
	}
	b.s.figure(name, format, args...)
}

// freezes are scenario 5's steps: kill -9, and on Redis also SIGSTOP past
// the TTL; the kubeLease release does the kill -9 alone, to keep the run
// short.
func (b *batch) freezes() []bool {
	if b.kubeLease {
		return []bool{false}
	}
	return []bool{false, true}
}

// leaseStage checks the Lease after a scenario of the kubeLease release:
// its holder is the pod labelled leader, its fence annotation is the one
// the leader's /leader answers, and it grew since the last stage (each
// scenario began a new term). The outcome is reported by leaseReport.
func (b *batch) leaseStage(stage string) func(*testing.T) {
	return func(t *testing.T) {
		b.need(t)
		s := b.s
		leader, ok := b.waitOneLeader(t, 30*time.Second)
		if !ok {
			b.leaseFail(stage + ": no single leader label")
			return
		}
		var holder, ann string
		var fence uint64
		err := poll(s.ctx, 10*time.Second, func() bool {
			l, err := s.c.Client.CoordinationV1().Leases(b.ns).Get(s.ctx, b.release, metav1.GetOptions{})
			if err != nil || l.Spec.HolderIdentity == nil {
				return false
			}
			holder, ann = *l.Spec.HolderIdentity, l.Annotations[kubelease.FenceAnnotation]
			fence, err = strconv.ParseUint(ann, 10, 64)
			return err == nil && holder == leader.Name && b.ls.MaxFence(leader.Name) == fence
		})
		line := fmt.Sprintf("%s: holder %q, fence %s (leader by label %s, its /leader fence %d)", stage, holder, ann, leader.Name, b.ls.MaxFence(leader.Name))
		switch {
		case err != nil:
			b.leaseFail(line + ": the Lease's holder and fence are not the leader's")
		case fence <= b.lastFence:
			b.leaseFail(fmt.Sprintf("%s: the fence did not grow (was %d)", line, b.lastFence))
		default:
			b.leaseStages = append(b.leaseStages, line)
		}
		b.lastFence = fence
	}
}

func (b *batch) leaseFail(line string) {
	b.leaseProblems = append(b.leaseProblems, line)
	b.leaseStages = append(b.leaseStages, line)
}

// leaseReport is scenario 15: the Lease stages, and the Role's rules on
// the Lease as the pods' own ServiceAccount meets them. A follower's watch
// selects metadata.name, which RBAC checks against the rule's
// resourceNames: a real watch, impersonating the ServiceAccount, must
// deliver the Lease, and one of all leases, or of another name, must be
// forbidden. No baton log line says forbidden, and no pod counted a failed
// watch (baton_kube_lease_errors_total{op="watch"}).
func (b *batch) leaseReport(t *testing.T) {
	b.need(t)
	s := b.s
	problems := append([]string{}, b.leaseProblems...)
	user := "system:serviceaccount:" + b.ns + ":" + b.fullname()
	for _, c := range []struct {
		verb, resource string
		want           bool
	}{
		{"get", "leases/" + b.release, true}, {"watch", "leases/" + b.release, true}, {"update", "leases/" + b.release, true},
		{"create", "leases", true},
		{"get", "leases/other", false}, {"update", "leases/other", false}, {"list", "leases", false},
		{"watch", "leases", false}, {"delete", "leases/" + b.release, false}, {"patch", "leases/" + b.release, false},
	} {
		resource, name, _ := strings.Cut(c.resource, "/")
		resource += ".coordination.k8s.io"
		if name != "" {
			resource += "/" + name
		}
		out, _ := s.kubectl(t, "-n", b.ns, "auth", "can-i", c.verb, resource, "--as", user)
		if got := strings.TrimSpace(out) == "yes"; got != c.want {
			problems = append(problems, fmt.Sprintf("can-i %s %s: %s", c.verb, c.resource, strings.TrimSpace(out)))
		}
	}
	watches := b.watchAs(user)
	for _, w := range watches {
		if !w.ok {
			problems = append(problems, w.String())
		}
	}
	s.logs.Poll()
	lines := s.logs.Lines(b.ns, b.fullname(), "baton")
	forbidden := grepLines(lines, "Forbidden", "forbidden", "Unauthorized", "unauthorized")
	if len(forbidden) > 0 {
		problems = append(problems, fmt.Sprintf("%d baton log lines say forbidden %s", len(forbidden), first(forbidden)))
	}
	errs := b.leaseErrors()
	if strings.Contains(errs, `op="watch"`) {
		problems = append(problems, "failed watches: "+errs)
	}
	var w []string
	for _, x := range watches {
		w = append(w, x.String())
	}
	b.report(t, 6, "the Lease and its Role", len(problems) == 0,
		"Lease after each scenario: %s; watches as %s: %s; can-i asked: get/watch/update leases/%s and create leases (want yes), other names, list, watch of all, delete and patch (want no); baton_kube_lease_errors_total: %s; problems: %s",
		strings.Join(b.leaseStages, "; "), user, strings.Join(w, ", "), b.release, errs, orNoneList(problems))
}

type watchResult struct {
	what string
	want bool // allowed
	ok   bool
	got  string
}

func (w watchResult) String() string {
	verdict := "as expected"
	if !w.ok {
		verdict = "UNEXPECTED"
	}
	return fmt.Sprintf("%s: %s (%s)", w.what, w.got, verdict)
}

// watchAs opens the watches a follower's RBAC must allow and refuse, as
// user (the admin impersonates it).
func (b *batch) watchAs(user string) []watchResult {
	cfg := rest.CopyConfig(b.s.c.RESTConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return []watchResult{{what: "client", got: err.Error()}}
	}
	var out []watchResult
	for _, c := range []struct {
		what, selector string
		want           bool
	}{
		{"watch metadata.name=" + b.release, fields.OneTermEqualSelector("metadata.name", b.release).String(), true},
		{"watch metadata.name=other", fields.OneTermEqualSelector("metadata.name", "other").String(), false},
		{"watch of all leases", "", false},
	} {
		r := watchResult{what: c.what, want: c.want}
		ctx, cancel := context.WithTimeout(b.s.ctx, 10*time.Second)
		w, err := cs.CoordinationV1().Leases(b.ns).Watch(ctx, metav1.ListOptions{FieldSelector: c.selector})
		switch {
		case err != nil && apierrors.IsForbidden(err):
			r.got, r.ok = "forbidden", !c.want
		case err != nil:
			r.got = err.Error()
		default:
			// The watch starts with the Lease as ADDED.
			select {
			case ev, open := <-w.ResultChan():
				r.got = fmt.Sprintf("allowed, first event %s (open=%v)", ev.Type, open)
				r.ok = c.want && open && ev.Type == "ADDED"
			case <-ctx.Done():
				r.got = "allowed, no event in 10s"
			}
			w.Stop()
		}
		cancel()
		out = append(out, r)
	}
	return out
}

// leaseErrors are the baton_kube_lease_errors_total samples above 0 of
// the release's running pods, from each pod's /metrics on its probes port.
func (b *batch) leaseErrors() string {
	client := &http.Client{Timeout: 2 * time.Second}
	l, err := b.s.c.Client.CoreV1().Pods(b.ns).List(b.s.ctx, metav1.ListOptions{LabelSelector: b.selector()})
	if err != nil {
		return err.Error()
	}
	var parts []string
	scraped := 0
	for _, p := range l.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		resp, err := client.Get("http://" + p.Status.PodIP + ":8081/metrics")
		if err != nil {
			parts = append(parts, p.Name+": "+err.Error())
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		scraped++
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "baton_kube_lease_errors_total{") && !strings.HasSuffix(line, " 0") {
				parts = append(parts, p.Name+" "+line)
			}
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("0 in all %d pods", scraped)
	}
	return strings.Join(parts, "; ")
}

func orNoneList(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, "; ")
}
