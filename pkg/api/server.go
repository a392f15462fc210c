package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/defaults"
)

// Defaults for ServerOptions fields left zero.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 8 << 10
)

// ServerOptions configures the *http.Server that NewServer returns. Zero
// values take the documented defaults; negative ones are errors.
//
// The timeouts bound what a slow or stalled client can hold: a connection,
// a goroutine and a buffer each. They do not cut the API's own waits short:
// a long-poll, an event stream and a release move their connection's
// write deadline themselves, so a 5m long-poll works with a 10s
// WriteTimeout.
type ServerOptions struct {
	// ReadHeaderTimeout bounds the reading of a request's headers. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, body included.
	// Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of a response that does not wait on
	// purpose. Default 10s.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. Default 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the size of a request's headers; larger ones
	// get a 431. Default 8 KiB, far above what the API's requests need
	// (an Authorization header with a MaxTokenLen token included).
	MaxHeaderBytes int
	// BaseContext, when set, returns the context every request's context
	// derives from; cancelling it ends the long-polls and event streams at
	// shutdown, which http.Server.Shutdown does not. Default: as
	// http.Server.
	BaseContext func(net.Listener) context.Context
	// Logger receives the server's own errors (a handler's panic, a
	// malformed connection) at level Error. Default: as http.Server, the
	// log package's standard logger.
	Logger *slog.Logger
}

// NewServer returns a server for h, usually NewHandler's, with o's limits.
// Its Addr is empty: call Serve with a listener, or set Addr before
// ListenAndServe. It rejects invalid options (ErrInvalidOptions).
func NewServer(h http.Handler, o ServerOptions) (*http.Server, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: NewServer needs a handler (got nil)", ErrInvalidOptions)
	}
	if err := defaults.Durations(
		defaults.Duration{Name: "ReadHeaderTimeout", Value: &o.ReadHeaderTimeout, Default: DefaultReadHeaderTimeout},
		defaults.Duration{Name: "ReadTimeout", Value: &o.ReadTimeout, Default: DefaultReadTimeout},
		defaults.Duration{Name: "WriteTimeout", Value: &o.WriteTimeout, Default: DefaultWriteTimeout},
		defaults.Duration{Name: "IdleTimeout", Value: &o.IdleTimeout, Default: DefaultIdleTimeout},
	); err != nil {
		return nil, invalidField(err)
	}
	switch {
	case o.MaxHeaderBytes < 0:
		return nil, invalid("MaxHeaderBytes", "must not be negative (got %d)", o.MaxHeaderBytes)
	case o.MaxHeaderBytes == 0:
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		BaseContext:       o.BaseContext,
	}
	if o.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelError)
	}
	return srv, nil
}
