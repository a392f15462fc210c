package probes

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The paths NewMux serves.
const (
	LivenessPath  = "/healthz"
	ReadinessPath = "/readyz"
	MetricsPath   = "/metrics"
)

// MuxOptions configures NewMux.
type MuxOptions struct {
	// Liveness are the checks served at /healthz. Default: none, so
	// /healthz answers ok while the process serves HTTP.
	Liveness map[string]Checker
	// Readiness are the checks served at /readyz. Default: none.
	Readiness map[string]Checker
	// Gatherer is what /metrics serves, such as the registry given to
	// metrics.New. Required.
	Gatherer prometheus.Gatherer
	// Logger receives check failures and recoveries. Default: a logger that
	// discards.
	Logger *slog.Logger
}

// NewMux returns a mux that serves Liveness at /healthz, Readiness at
// /readyz (each with its subpaths, see NewHandler) and Gatherer at /metrics
// in the Prometheus exposition formats. Only GET and HEAD are served. It
// rejects invalid options with an error that wraps ErrInvalidOptions and
// names the field.
func NewMux(opts MuxOptions) (*http.ServeMux, error) {
	if opts.Gatherer == nil {
		return nil, fmt.Errorf("%w: Gatherer is required", ErrInvalidOptions)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	for _, p := range []struct {
		field, path string
		checks      map[string]Checker
	}{
		{"Liveness", LivenessPath, opts.Liveness},
		{"Readiness", ReadinessPath, opts.Readiness},
	} {
		h, err := NewHandler(p.checks, logger.With("probe", p.path))
		if err != nil {
			return nil, fmt.Errorf("%w (MuxOptions.%s)", err, p.field)
		}
		h = http.StripPrefix(p.path, h)
		mux.Handle("GET "+p.path, h)
		mux.Handle("GET "+p.path+"/", h)
	}
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	return mux, nil
}
