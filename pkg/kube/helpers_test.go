package kube_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/baton-dev/baton/pkg/kube"
)

// pollEvery is how often tests read the API server while they wait.
const pollEvery = 10 * time.Millisecond

// waitPod polls the pod until ok holds, for at most bound, and returns the
// pod and how long it took.
func waitPod(t *testing.T, cs kubernetes.Interface, ns, name string, bound time.Duration, what string, ok func(*corev1.Pod) bool) (*corev1.Pod, time.Duration) {
	t.Helper()
	start := time.Now()
	var last *corev1.Pod
	for {
		p, err := cs.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err == nil {
			last = p
			if ok(p) {
				return p, time.Since(start)
			}
		}
		if time.Since(start) > bound {
			t.Fatalf("pod %s: %s not seen within %v; last: labels %v, conditions %s, err %v",
				name, what, bound, labelsOf(last), conditions(last), err)
		}
		time.Sleep(pollEvery)
	}
}

func labelsOf(p *corev1.Pod) map[string]string {
	if p == nil {
		return nil
	}
	return p.Labels
}

func conditions(p *corev1.Pod) string {
	if p == nil {
		return "<no pod>"
	}
	var parts []string
	for _, c := range p.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func leaderCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == kube.DefaultConditionType {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// marked reports whether the pod's label and condition both say leader (or
// both say not leader), with the condition's reason.
func marked(leader bool, reason string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		c := leaderCondition(p)
		want := corev1.ConditionFalse
		if leader {
			want = corev1.ConditionTrue
		}
		return p.Labels[kube.DefaultLabelKey] == fmt.Sprint(leader) && c != nil && c.Status == want &&
			(reason == "" || c.Reason == reason)
	}
}

// labelled checks the label alone.
func labelled(leader bool) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Labels[kube.DefaultLabelKey] == fmt.Sprint(leader) }
}

// waitEvents polls the events.k8s.io Events regarding a pod until their
// reasons, oldest first, are want.
func waitEvents(t *testing.T, cs kubernetes.Interface, ns, podName string, bound time.Duration, want ...string) []eventsv1.Event {
	t.Helper()
	start := time.Now()
	for {
		list, err := cs.EventsV1().Events(ns).List(t.Context(), metav1.ListOptions{
			FieldSelector: "regarding.name=" + podName,
		})
		var got []string
		if err == nil {
			slices.SortStableFunc(list.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
			for _, e := range list.Items {
				got = append(got, e.Reason)
			}
			if slices.Equal(got, want) {
				return list.Items
			}
		}
		if time.Since(start) > bound {
			t.Fatalf("events of %s: got %v (err %v), want %v", podName, got, err, want)
		}
		time.Sleep(pollEvery)
	}
}

// startPublisher runs a publisher until the test ends and returns a
// function that stops it and waits for its final publication.
func startPublisher(t *testing.T, src kube.Source, opts kube.Options) (stop func()) {
	t.Helper()
	p, err := kube.New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func newMetrics(t *testing.T) (*kube.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := kube.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// apiErrors sums baton_kube_api_errors_total over every op.
func apiErrors(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "baton_kube_api_errors_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// setCondition sets the leader condition of a pod as a crashed sidecar
// would have left it.
func setCondition(t *testing.T, cs kubernetes.Interface, ns, name string, status corev1.ConditionStatus) {
	t.Helper()
	body := fmt.Sprintf(`{"status":{"conditions":[{"type":%q,"status":%q,"reason":"Leading","message":"left over","lastTransitionTime":%q}]}}`,
		kube.DefaultConditionType, status, time.Now().UTC().Format(time.RFC3339))
	if _, err := cs.CoreV1().Pods(ns).Patch(t.Context(), name, types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// counter returns the value of an unlabelled counter.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
