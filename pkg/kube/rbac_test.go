package kube_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/kube"
)

// publishBound is how long a change may take to show on a pod in these
// tests: one API round trip or three on an idle local API server, with
// ample room for a loaded CI machine.
const publishBound = 5 * time.Second

// serviceAccountConfig creates a ServiceAccount bound to a Role with exactly
// kube.RequiredRules in ns, and returns a configuration that impersonates
// it.
func serviceAccountConfig(t *testing.T, admin kubernetes.Interface, ns string) *rest.Config {
	t.Helper()
	ctx := t.Context()
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "baton"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "baton"},
		Rules:      kube.RequiredRules,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "baton"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "baton"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "baton", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := apiServer(t)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":baton"}
	return cfg
}

// TestRBACRequiredRulesSufficeAndNothingMore runs the publisher as a
// ServiceAccount bound to a Role with exactly RequiredRules: the label, the
// condition, the Events and the stale-label sweep all succeed, and calls
// outside the Role are forbidden.
func TestRBACRequiredRulesSufficeAndNothingMore(t *testing.T) {
	admin := clientset(t, apiServer(t))
	ns := namespace(t, admin)
	other := namespace(t, admin)
	saConfig := serviceAccountConfig(t, admin, ns)
	sa, saClient := clientset(t, saConfig), leanClient(t, saConfig)

	self := pod(t, admin, ns, "baton-0", nil, nil)
	// Conditions the kubelet would own: the publisher must leave them be.
	self.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.Now()},
	}
	if _, err := admin.CoreV1().Pods(ns).UpdateStatus(t.Context(), self, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := pod(t, admin, ns, "baton-1", map[string]string{kube.DefaultLabelKey: "true"}, map[string]string{kube.LockAnnotation: "job"})
	otherPod := pod(t, admin, other, "baton-0", nil, nil)

	m, reg := newMetrics(t)
	src := kube.NewFakeSource("baton-0")
	startPublisher(t, src, kube.Options{Client: saClient, Namespace: ns, PodName: self.Name, Metrics: m, Resync: time.Hour})

	waitPod(t, admin, ns, self.Name, publishBound, "leader=false at start", marked(false, kube.ReasonCampaigning))
	src.Lead(7)
	got, _ := waitPod(t, admin, ns, self.Name, publishBound, "leader=true", marked(true, kube.ReasonLeading))
	if c := leaderCondition(got); !strings.Contains(c.Message, "fence 7") || !strings.Contains(c.Message, "baton-0") {
		t.Errorf("condition message %q lacks the fence or the holder", c.Message)
	}
	if got.Annotations[kube.LockAnnotation] != "job" {
		t.Errorf("lock annotation = %q, want job", got.Annotations[kube.LockAnnotation])
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReady} {
		if !slices.ContainsFunc(got.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == ct }) {
			t.Errorf("condition %s was clobbered: %s", ct, conditions(got))
		}
	}
	waitPod(t, admin, ns, stale.Name, publishBound, "stale label corrected", labelled(false))

	src.StepDown(election.ReasonResigned)
	waitPod(t, admin, ns, self.Name, publishBound, "leader=false after resign", marked(false, kube.ReasonResigned))
	evs := waitEvents(t, admin, ns, self.Name, publishBound, kube.EventLeaderElected, kube.EventResigned)
	for _, e := range evs {
		if !strings.Contains(e.Note, "fence 7") || e.Regarding.UID != self.UID || e.ReportingController != kube.DefaultReportingController {
			t.Errorf("event %s: note %q, regarding %+v, controller %q", e.Reason, e.Note, e.Regarding, e.ReportingController)
		}
	}
	if n := apiErrors(t, reg); n != 0 {
		t.Errorf("baton_kube_api_errors_total = %v with the required rules, want 0", n)
	}

	// Everything outside the Role is forbidden, whether asked through the
	// publisher's client or the typed clientset.
	ctx := t.Context()
	merge := []byte(`{"metadata":{"labels":{"baton.dev/leader":"true"}}}`)
	denied := []struct {
		name string
		call func() error
	}{
		{"delete a pod", func() error {
			return sa.CoreV1().Pods(ns).Delete(ctx, stale.Name, metav1.DeleteOptions{})
		}},
		{"update a pod", func() error {
			p := self.DeepCopy()
			p.ResourceVersion = ""
			_, err := sa.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{})
			return err
		}},
		{"create a pod", func() error {
			_, err := sa.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}},
			}, metav1.CreateOptions{})
			return err
		}},
		{"get a secret", func() error {
			_, err := sa.CoreV1().Secrets(ns).Get(ctx, "any", metav1.GetOptions{})
			return err
		}},
		{"get a pod in another namespace", func() error {
			_, err := saClient.GetPod(ctx, other, otherPod.Name)
			return err
		}},
		{"patch a pod in another namespace", func() error {
			_, err := saClient.PatchPod(ctx, other, otherPod.Name, types.MergePatchType, merge)
			return err
		}},
		{"patch pods/status in another namespace", func() error {
			_, err := saClient.PatchPod(ctx, other, otherPod.Name, types.StrategicMergePatchType, []byte(`{"status":{}}`), "status")
			return err
		}},
		{"list pods in another namespace", func() error {
			_, err := saClient.ListPods(ctx, other, metav1.ListOptions{})
			return err
		}},
		{"list pods of every namespace", func() error {
			_, err := saClient.ListPods(ctx, "", metav1.ListOptions{})
			return err
		}},
		{"get pods/status", func() error {
			return sa.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").Name(self.Name).SubResource("status").Do(ctx).Error()
		}},
		{"create a core/v1 Event", func() error {
			_, err := sa.CoreV1().Events(ns).Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{Name: "x"},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: self.Name},
				Reason:         "X", Message: "x", Type: corev1.EventTypeNormal,
			}, metav1.CreateOptions{})
			return err
		}},
		{"list events", func() error {
			_, err := sa.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"patch an event", func() error {
			_, err := sa.EventsV1().Events(ns).Patch(ctx, evs[0].Name, types.MergePatchType, []byte(`{"note":"x"}`), metav1.PatchOptions{})
			return err
		}},
		{"watch pods in another namespace", func() error {
			w, err := sa.CoreV1().Pods(other).Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"create an Event in another namespace", func() error {
			_, err := saClient.CreateEvent(ctx, other, &eventsv1.Event{
				ObjectMeta: metav1.ObjectMeta{Name: "x"}, EventTime: metav1.NowMicro(),
				ReportingController: "baton.dev/sidecar", ReportingInstance: "x", Action: "Lead", Reason: "X", Type: "Normal",
				Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: other, Name: otherPod.Name},
			})
			return err
		}},
	}
	for _, d := range denied {
		t.Run(d.name, func(t *testing.T) {
			if err := d.call(); !apierrors.IsForbidden(err) {
				t.Errorf("got %v, want Forbidden", err)
			}
		})
	}
}
