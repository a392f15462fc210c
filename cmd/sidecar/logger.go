package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
	"k8s.io/klog/v2"
)

func newLogger(format, level string, w io.Writer) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // validated in config
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// routeLibraryLogs sends what go-redis and klog (under client-go) log on
// their own into log, so that every line of the process has one format.
// Both libraries keep a process-wide logger; the sidecar is the process.
func routeLibraryLogs(log *slog.Logger) {
	redis.SetLogger(redisLogger{log.With("source", "go-redis")})
	klog.SetSlogLogger(log.With("source", "klog"))
}

// redisLogger adapts slog to go-redis's Printf-style logger. go-redis logs
// only what it could not handle itself (a failed dial, a dropped pub/sub
// connection), so its lines are warnings.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}
