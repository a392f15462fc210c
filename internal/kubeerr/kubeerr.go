// Package kubeerr holds the one rule, shared by pkg/kube and pkg/kubelease,
// for the answers of the Kubernetes API server that are part of its normal
// work rather than failures.
package kubeerr

import (
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Expected reports whether err is an answer the API server gives while its
// watch cache catches up ("Too large resource version", as a 504 Timeout or
// a 429), or when a resourceVersion is too old (410 Gone, Expired). A fresh
// read and a new watch are the remedy: it is no error to count or to warn
// about. It sees through wrapping.
func Expected(err error) bool {
	if err == nil {
		return false
	}
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return true
	}
	if !apierrors.IsTimeout(err) && !apierrors.IsTooManyRequests(err) {
		return false
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		if d := st.Status().Details; d != nil {
			for _, c := range d.Causes {
				if c.Type == metav1.CauseTypeResourceVersionTooLarge {
					return true
				}
			}
		}
	}
	return strings.Contains(strings.ToLower(err.Error()), "too large resource version")
}
