//go:build linux

package e2e

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rbac is scenario 6: the publisher works with the real ServiceAccount
// token and exactly the chart's Role: labels, condition and Events were
// published (scenarios 1 to 5), the pods run as the chart's
// ServiceAccount, the Role grants no more than the publisher's verbs, and
// no log says Forbidden.
func (b *batch) rbac(t *testing.T) {
	b.need(t)
	s := b.s
	sa := b.fullname()
	var problems []string
	for _, p := range s.pods(t, b.ns, b.selector()) {
		if p.Spec.ServiceAccountName != sa {
			problems = append(problems, p.Name+" runs as "+p.Spec.ServiceAccountName)
		}
	}
	rb, err := s.c.Client.RbacV1().RoleBindings(b.ns).Get(s.ctx, b.fullname(), metav1.GetOptions{})
	if err != nil {
		problems = append(problems, "rolebinding: "+err.Error())
	} else if len(rb.Subjects) != 1 || rb.Subjects[0].Name != sa || rb.RoleRef.Kind != "Role" {
		problems = append(problems, "rolebinding binds more or other than the chart's ServiceAccount to its Role")
	}
	// What the token may do, asked of the API server as that user.
	user := "system:serviceaccount:" + b.ns + ":" + sa
	for _, c := range []struct {
		verb, resource string
		want           bool
	}{
		{"get", "pods", true}, {"list", "pods", true}, {"patch", "pods", true}, {"patch", "pods/status", true},
		{"create", "events.events.k8s.io", true},
		{"delete", "pods", false}, {"update", "pods", false}, {"create", "pods", false}, {"get", "secrets", false},
	} {
		out, _ := s.kubectl(t, "-n", b.ns, "auth", "can-i", c.verb, c.resource, "--as", user)
		got := strings.TrimSpace(out) == "yes"
		if got != c.want {
			problems = append(problems, c.verb+" "+c.resource+": "+strings.TrimSpace(out))
		}
	}
	s.logs.Poll()
	lines := s.logs.Lines(b.ns, b.fullname(), "baton")
	// A retried publish (a conflict, a mark that changed under it) is the
	// publisher's normal back-off; what the token or the Role refuses says
	// forbidden or Unauthorized.
	forbidden := grepLines(lines, "Forbidden", "forbidden", "Unauthorized", "unauthorized")
	failed := grepLines(lines, "publisher failed")
	retried := grepLines(lines, "kubernetes publish failed")
	published := len(grepLines(lines, "pod label published")) > 0 && len(grepLines(lines, "pod condition published")) > 0 &&
		len(grepLines(lines, "event recorded")) > 0
	pass := len(problems) == 0 && len(forbidden) == 0 && published && len(failed) == 0
	s.report(t, 6, "ServiceAccount token and the chart's Role", pass,
		"%d baton log lines; Forbidden or Unauthorized in logs: %d %s; publisher failures: %d %s; retried publishes (back-off, not RBAC): %d %s; labels, condition and events published: %v; RBAC: %s",
		len(lines), len(forbidden), first(forbidden), len(failed), first(failed), len(retried), retryReasons(retried), published, orNone(problems))
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return "(" + l[0] + ")"
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "exactly the chart's Role (can-i: get/list/patch pods, patch pods/status, create events; not delete/update/create pods, not secrets)"
	}
	return strings.Join(l, "; ")
}

// retryReasons are the distinct errors of the retried publishes.
func retryReasons(lines []string) string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		_, after, ok := strings.Cut(l, `"err":"`)
		if !ok {
			continue
		}
		e, _, _ := strings.Cut(after, `"`)
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "(" + strings.Join(out, "; ") + ")"
}
