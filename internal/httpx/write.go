// Package httpx is the HTTP plumbing shared by baton's loopback APIs
// (pkg/api and pkg/locks/httpapi): JSON answers, error bodies, request
// errors and query parsing.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// WriteJSON answers code with v as JSON, never cached.
func WriteJSON(log *slog.Logger, w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		// Not expected: every body is plain strings and numbers.
		log.Error("encode response", "err", err)
		code, data = http.StatusInternalServerError, []byte(`{"error":"cannot encode response"}`)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

// WriteError answers code with an error body, logged at debug level.
func WriteError(log *slog.Logger, w http.ResponseWriter, r *http.Request, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", code, "err", msg)
	WriteJSON(log, w, code, errorBody{Error: msg})
}

// WriteRequestError answers err, a *RequestError or else a bad request.
func WriteRequestError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusBadRequest
	if re, ok := errors.AsType[*RequestError](err); ok {
		code = re.Code
	}
	WriteError(log, w, r, code, "%s", err.Error())
}

// MethodNotAllowed answers 405 with an Allow header.
func MethodNotAllowed(log *slog.Logger, allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		WriteError(log, w, r, http.StatusMethodNotAllowed, "method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)
	})
}

// RequestError is a request that cannot be served as asked: Code is the
// HTTP status to answer with.
type RequestError struct {
	Code int
	Msg  string
}

func (e *RequestError) Error() string { return e.Msg }

// BadRequest is a RequestError with code 400.
func BadRequest(format string, args ...any) error {
	return &RequestError{Code: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// BusyRetryAfter is the Retry-After, in seconds, of a 503 for too many
// waiters or holdings: soon, since a slot frees as soon as one ends.
const BusyRetryAfter = 1
