package kube

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/field"
)

// These tests use client-go's fake clientset, through the clientset
// adapter, only where a real API server cannot do the job: to inject
// failures and to hold a call in flight. The behaviour against a real
// server, through NewClient, is tested with envtest in package kube_test.

const testGuard = 10 * time.Second

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)}}
}

// syncedLog is a slog handler output safe for concurrent writes and reads.
type syncedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncedLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func run(t *testing.T, p *Publisher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it holds, for at most testGuard.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func podLabel(t *testing.T, cs *fake.Clientset, name string) string {
	t.Helper()
	p, err := cs.Tracker().Get(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "ns", name)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*corev1.Pod).Labels[DefaultLabelKey]
}

func TestFailedCallsRetryWithBackoffAreCountedAndLoggedOnce(t *testing.T) {
	cs := fake.NewClientset(testPod("a"))
	const failures = 4
	var mu sync.Mutex
	calls := 0
	cs.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "" {
			return false, nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= failures {
			return true, nil, apierrors.NewServiceUnavailable("etcd is sad")
		}
		return false, nil, nil
	})
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncedLog
	src := NewFakeSource("a")
	src.Lead(5)
	p, err := New(src, Options{
		Client: clientset{cs}, Namespace: "ns", PodName: "a", Metrics: m, Resync: time.Hour,
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p)
	eventually(t, "the label after the failures", func() bool { return podLabel(t, cs, "a") == "true" })
	eventually(t, "the recovery log line", func() bool { return logs.count("kubernetes publish recovered") == 1 })

	if got := testutil.ToFloat64(m.apiErrors.WithLabelValues(OpPatchPod)); got != failures {
		t.Errorf("api errors{op=patch_pod} = %v, want %d", got, failures)
	}
	if got := testutil.ToFloat64(m.syncs.WithLabelValues("error")); got != failures {
		t.Errorf("syncs{result=error} = %v, want %d", got, failures)
	}
	if got := testutil.ToFloat64(m.lastSync); got <= 0 {
		t.Errorf("last sync timestamp = %v, want > 0", got)
	}
	if n := logs.count("kubernetes publish failed"); n != 1 {
		t.Errorf("%d failure log lines for one run of identical failures, want 1:\n%s", n, logs.b.String())
	}
}

func TestSlowAPIServerCoalescesToTheLatestState(t *testing.T) {
	cs := fake.NewClientset(testPod("a"))
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	var once sync.Once
	var mu sync.Mutex
	var patches []string
	cs.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		once.Do(func() {
			entered <- struct{}{}
			<-gate // the first sync hangs in its first call
		})
		return false, nil, nil
	})
	cs.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "" {
			mu.Lock()
			patches = append(patches, string(a.(k8stesting.PatchAction).GetPatch()))
			mu.Unlock()
		}
		return false, nil, nil
	})
	src := NewFakeSource("a")
	p, err := New(src, Options{Client: clientset{cs}, Namespace: "ns", PodName: "a", Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, p)
	<-entered
	// While the API server hangs, the election goes on unhindered: three
	// terms come and go.
	for fence := uint64(1); fence <= 3; fence++ {
		src.Lead(fence)
		src.StepDown(election.ReasonLost)
	}
	src.Lead(4)
	eventually(t, "the publisher to see fence 4", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.want.leader && p.want.fence == 4
	})
	close(gate)
	eventually(t, "the latest state published", func() bool { return podLabel(t, cs, "a") == "true" })
	stop()

	mu.Lock()
	defer mu.Unlock()
	// The hung sync read the start state (not leader), then one sync
	// published the latest (leader), then the final one (not leader).
	want := []string{`"false"`, `"true"`, `"false"`}
	if len(patches) != len(want) {
		t.Fatalf("label patches %q, want %d: one per published state", patches, len(want))
	}
	for i, w := range want {
		if !strings.Contains(patches[i], w) {
			t.Errorf("patch %d = %s, want label %s", i, patches[i], w)
		}
	}
}

func TestEventQueueIsBounded(t *testing.T) {
	cs := fake.NewClientset(testPod("a"))
	cs.PrependReactor("create", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("no events today")
	})
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	src := NewFakeSource("a")
	p, err := New(src, Options{Client: clientset{cs}, Namespace: "ns", PodName: "a", Metrics: m, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for fence := uint64(1); fence <= MaxPendingEvents; fence++ {
		src.Lead(fence)
		p.observe(src.Status())
		src.StepDown(election.ReasonResigned)
		p.observe(src.Status())
	}
	p.mu.Lock()
	n, first := len(p.pending), p.pending[0]
	p.mu.Unlock()
	if n != MaxPendingEvents {
		t.Errorf("%d pending events, want %d", n, MaxPendingEvents)
	}
	if !strings.Contains(first.note, "fence 9") {
		t.Errorf("oldest kept event %q, want the one of fence 9 (the oldest dropped)", first.note)
	}
	if got := testutil.ToFloat64(m.eventsDropped); got != MaxPendingEvents {
		t.Errorf("events dropped = %v, want %d", got, MaxPendingEvents)
	}
}

func TestBackoff(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, time.Second
	tests := []struct {
		n    int
		want time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {50, time.Second}}
	for _, tt := range tests {
		for range 100 {
			got := backoff(lo, hi, tt.n)
			if got < tt.want*8/10 || got > tt.want*12/10 {
				t.Fatalf("backoff(%d) = %v, want %v ±20%%", tt.n, got, tt.want)
			}
		}
	}
}

func TestNewValidates(t *testing.T) {
	cs := fake.NewClientset()
	src := NewFakeSource("a")
	tests := []struct {
		name string
		src  Source
		opts Options
		want string
	}{
		{"nil source", nil, Options{Client: clientset{cs}, Namespace: "ns", PodName: "a"}, "nil Source"},
		{"no client", src, Options{Namespace: "ns", PodName: "a"}, "Client is required"},
		{"no pod", src, Options{Client: clientset{cs}, Namespace: "ns"}, "PodName is required"},
		{"bad label key", src, Options{Client: clientset{cs}, Namespace: "ns", PodName: "a", LabelKey: "not a key"}, `LabelKey must be a label key (got "not a key")`},
		{"negative resync", src, Options{Client: clientset{cs}, Namespace: "ns", PodName: "a", Resync: -time.Second}, "Resync must not be negative"},
		{"max below min", src, Options{Client: clientset{cs}, Namespace: "ns", PodName: "a", MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "MaxBackoff must not be below MinBackoff (got 1ms < 1s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.src, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "kube: ") {
				t.Errorf("New: %v, want an error with %q", err, tt.want)
			}
			// A nil Source is no option: it has no field.
			if !errors.Is(err, ErrInvalidOptions) || errors.As(err, new(*field.Error)) != (tt.src != nil) {
				t.Errorf("New: %v, want ErrInvalidOptions, with a *field.Error unless the Source is nil", err)
			}
		})
	}
}

func TestSecondRunFails(t *testing.T) {
	cs := fake.NewClientset(testPod("a"))
	p, err := New(NewFakeSource("a"), Options{Client: clientset{cs}, Namespace: "ns", PodName: "a"})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p)
	eventually(t, "Run to start", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.running
	})
	if err := p.Run(t.Context()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run: %v, want ErrAlreadyRunning", err)
	}
}
