package probes

import (
	"log/slog"
	"net/http"
)

// The paths NewMux serves.
const (
	LivenessPath  = "/healthz"
	ReadinessPath = "/readyz"
)

// MuxOptions configures NewMux.
type MuxOptions struct {
	// Liveness are the checks served at /healthz. Default: none, so
	// /healthz answers ok while the process serves HTTP.
	Liveness map[string]Checker
	// Readiness are the checks served at /readyz. Default: none.
	Readiness map[string]Checker
	// Logger receives check failures and recoveries. Default: a logger that
	// discards.
	Logger *slog.Logger
}

// NewMux returns a mux that serves Liveness at /healthz and Readiness at
// /readyz, each with its subpaths (see NewHandler). Only GET and HEAD are
// served. The caller may add more routes, such as /metrics, to the mux. It
// rejects invalid options with ErrInvalidOptions wrapping a *field.Error.
func NewMux(opts MuxOptions) (*http.ServeMux, error) {
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
		h, err := newHandler(p.field, p.checks, logger.With("probe", p.path))
		if err != nil {
			return nil, err
		}
		h = http.StripPrefix(p.path, h)
		mux.Handle("GET "+p.path, h)
		mux.Handle("GET "+p.path+"/", h)
	}
	return mux, nil
}
