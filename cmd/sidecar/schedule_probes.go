package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/metrics"
	"github.com/baton-dev/baton/pkg/probes"
)

// scheduleProbes serves schedule mode's probes on --probe-addr: /healthz
// (ok while the process serves), /readyz (Redis answers a PING, cached
// readinessPingTTL, as --ready-when=connected) and /metrics (what reg
// holds, and the Go and process collectors). It is bound before any Redis
// call.
type scheduleProbes struct {
	srv *http.Server
	ln  net.Listener
}

// newScheduleProbes binds --probe-addr and builds its server.
func newScheduleProbes(cfg *config, client redis.UniversalClient, reg *prometheus.Registry, log *slog.Logger) (*scheduleProbes, error) {
	ping := func(ctx context.Context) error {
		if err := client.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis ping: %w", err)
		}
		return nil
	}
	mux, err := probes.NewMux(probes.MuxOptions{
		Readiness: map[string]probes.Checker{"redis": probes.CachedPing(ping, readinessPingTTL, nil)},
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	mux.Handle("GET "+metrics.Path, metrics.Handler(reg))
	srv, err := api.NewServer(mux, api.ServerOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.ProbeAddr)
	if err != nil {
		return nil, fmt.Errorf("--probe-addr: %w", err)
	}
	return &scheduleProbes{srv: srv, ln: ln}, nil
}

// serve serves until stop, which shuts the server down within
// httpShutdownTimeout.
func (p *scheduleProbes) serve(log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.srv.Serve(p.ln); err != nil && err != http.ErrServerClosed {
			log.Error("probe server failed", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		defer cancel()
		_ = p.srv.Shutdown(ctx)
		<-done
	}
}
