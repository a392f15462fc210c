package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterIsAllOrNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	if err := Register(reg, b); err != nil {
		t.Fatal(err)
	}
	// a registers, then clash collides with it: a must be gone again.
	if err := Register(reg, a, clash); err == nil {
		t.Fatal("a duplicate registered")
	}
	if err := Register(reg, a); err != nil {
		t.Errorf("a was left registered after the failed group: %v", err)
	}
}
