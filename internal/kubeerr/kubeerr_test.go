package kubeerr_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/baton-dev/baton/internal/kubeerr"
)

// tooLarge is the answer as kube-apiserver's storage makes it
// (storage.NewTooLargeResourceVersionError): a Timeout with a cause.
func tooLarge() error {
	err := apierrors.NewTimeoutError("Too large resource version: 906, current: 905", 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{
		{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"},
	}
	return err
}

func TestExpected(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	causeOnly := apierrors.NewTimeoutError("the server is catching up", 1)
	causeOnly.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"too large resource version, as the API server says it", tooLarge(), true},
		{"too large resource version, message alone", apierrors.NewTimeoutError("Too large resource version: 906, current: 905", 1), true},
		{"too large resource version, cause alone", causeOnly, true},
		{"too large resource version, as a 429", apierrors.NewTooManyRequests("Too large resource version: 7, current: 6", 1), true},
		{"too large resource version, wrapped", fmt.Errorf("kube: watch_pod ns/pod: %w", tooLarge()), true},
		{"too large resource version, from a watch's Error event", apierrors.FromObject(&tooLarge().(*apierrors.StatusError).ErrStatus), true},
		{"expired", apierrors.NewResourceExpired("too old resource version: 1 (5)"), true},
		{"gone", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonGone}}, true},
		{"410 with no reason", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone}}, true},
		{"another timeout", apierrors.NewTimeoutError("request timed out", 1), false},
		{"another 429", apierrors.NewTooManyRequests("slow down", 1), false},
		{"the message in another kind of error", apierrors.NewBadRequest("too large resource version"), false},
		{"forbidden", apierrors.NewForbidden(gr, "pod", errors.New("no")), false},
		{"not found", apierrors.NewNotFound(gr, "pod"), false},
		{"a plain error", errors.New("connection reset"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kubeerr.Expected(tt.err); got != tt.want {
				t.Errorf("Expected(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
