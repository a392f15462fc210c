package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/baton-dev/baton/internal/httpx"
)

// handler answers the routes' requests, logging to log.
type handler struct{ log *slog.Logger }

func (h *handler) writeJSON(w http.ResponseWriter, code int, v any) {
	httpx.WriteJSON(h.log, w, code, v)
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, code int, format string, args ...any) {
	httpx.WriteError(h.log, w, r, code, format, args...)
}

func (h *handler) methodNotAllowed(allow string) http.Handler {
	return httpx.MethodNotAllowed(h.log, allow)
}
