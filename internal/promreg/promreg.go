// Package promreg registers a group of Prometheus collectors as one: all of
// them, or none. pkg/metrics and pkg/kube both build their collectors this
// way.
package promreg

import "github.com/prometheus/client_golang/prometheus"

// Register registers every collector on reg. When one fails, it
// unregisters the ones it had registered, so that reg is left as it was,
// and returns that error.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}
