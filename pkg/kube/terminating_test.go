package kube

import (
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// tooLargeRV is the API server's answer while its watch cache catches up,
// as its storage makes it (storage.NewTooLargeResourceVersionError).
func tooLargeRV() *apierrors.StatusError {
	err := apierrors.NewTimeoutError("Too large resource version: 906, current: 905", 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{
		{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"},
	}
	return err
}

// The watch of the own pod meets an answer of the API server: an expected
// one is retried at once, neither counted in baton_kube_api_errors_total
// nor logged as a warning; a failure is both. Either way the next watch
// sees the pod being deleted. A real API server cannot be made to give
// these answers, so client-go's fake clientset's watch reactor does.
func TestWatchOfOwnPodAnswers(t *testing.T) {
	tests := []struct {
		name string
		// first is the first watch's outcome: an error of the call, or an
		// Error event on the stream.
		callErr, eventErr *apierrors.StatusError
		counted           bool
	}{
		{name: "too large resource version, as an event", eventErr: tooLargeRV()},
		{name: "too large resource version, from the call", callErr: tooLargeRV()},
		{name: "gone, as an event", eventErr: &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonGone, Message: "too old resource version: 1 (5)",
		}}},
		{name: "expired, from the call", callErr: apierrors.NewResourceExpired("too old resource version: 1 (5)")},
		{name: "a failure, as an event", eventErr: apierrors.NewServiceUnavailable("etcd is sad"), counted: true},
		{name: "a failure, from the call", callErr: apierrors.NewInternalError(errors.New("boom")), counted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(testPod("a"))
			var watches atomic.Int32
			cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
				w := watch.NewFakeWithChanSize(1, false)
				if watches.Add(1) == 1 {
					if tt.callErr != nil {
						return true, nil, tt.callErr
					}
					w.Error(&tt.eventErr.ErrStatus)
					return true, w, nil
				}
				pod := testPod("a")
				pod.DeletionTimestamp = &metav1.Time{Time: time.Now()}
				w.Modify(pod)
				return true, w, nil
			})
			reg := prometheus.NewPedanticRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			var logs syncedLog
			terminating := make(chan struct{})
			p, err := New(NewFakeSource("a"), Options{
				Client: clientset{cs}, Namespace: "ns", PodName: "a", Metrics: m, Resync: time.Hour,
				MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
				OnTerminating: func() { close(terminating) },
				Logger:        slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			run(t, p)
			select {
			case <-terminating:
			case <-time.After(testGuard):
				t.Fatalf("the pod's deletion not seen within %v (%d watches)", testGuard, watches.Load())
			}
			if n := watches.Load(); n != 2 {
				t.Errorf("%d watches, want 2: the failed one and the next", n)
			}
			wantCount, wantWarn, wantDebug := 0.0, 0, 1
			if tt.counted {
				wantCount, wantWarn, wantDebug = 1, 1, 0
			}
			if got := testutil.ToFloat64(m.apiErrors.WithLabelValues(OpWatchPod)); got != wantCount {
				t.Errorf("baton_kube_api_errors_total{op=watch_pod} = %v, want %v", got, wantCount)
			}
			if n := logs.count("level=WARN"); n != wantWarn {
				t.Errorf("%d warnings, want %d:\n%s", n, wantWarn, logs.String())
			}
			if n := logs.count("ended with an expected answer"); n != wantDebug {
				t.Errorf("%d debug lines of an expected answer, want %d:\n%s", n, wantDebug, logs.String())
			}
		})
	}
}

func (l *syncedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
