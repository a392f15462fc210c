package probes

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/baton-dev/baton/pkg/field"
)

// Checker is one named check. It returns nil when healthy. It gets the
// probe's request, whose context ends when the caller gives up.
type Checker func(*http.Request) error

// ErrInvalidOptions marks every error about invalid options or checks; it
// wraps a *field.Error that names the check, such as Readiness["redis"].
var ErrInvalidOptions = errors.New("probes: invalid options")

// check is a Checker with the state that limits its logging.
type check struct {
	name    string
	fn      Checker
	failing atomic.Bool
}

// handler serves a set of checks; see NewHandler.
type handler struct {
	checks []*check // sorted by name
	byName map[string]*check
	logger *slog.Logger
}

// NewHandler returns a handler for checks, to be mounted under a prefix
// with that prefix stripped (NewMux does this): it serves the aggregate of
// all checks at "/" (and ""), each check at "/name", and 404 for any other
// path. Check names are 1 to 63 characters from A-Z a-z 0-9 . _ - and
// every Checker must be non-nil. No checks at all always answers ok.
//
// A failure is logged on logger, at warning level, when a check goes from
// passing to failing; the recovery is logged at info level. A nil logger
// discards.
func NewHandler(checks map[string]Checker, logger *slog.Logger) (http.Handler, error) {
	return newHandler("checks", checks, logger)
}

// newHandler is NewHandler; its errors name each check as path[name].
func newHandler(path string, checks map[string]Checker, logger *slog.Logger) (http.Handler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{byName: make(map[string]*check, len(checks)), logger: logger}
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		if err := validCheck(fmt.Sprintf("%s[%q]", path, name), name, checks[name]); err != nil {
			return nil, err
		}
		c := &check{name: name, fn: checks[name]}
		h.checks = append(h.checks, c)
		h.byName[name] = c
	}
	return h, nil
}

// validCheck checks one named check; path names it in errors.
func validCheck(path, name string, fn Checker) error {
	bad := func(rule string) error {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, field.Invalid(path, "%s", rule))
	}
	if len(name) == 0 || len(name) > 63 {
		return bad("must have a name of 1 to 63 characters")
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return bad("must have a name of only A-Z a-z 0-9 . _ -")
		}
	}
	if fn == nil {
		return bad("must not be nil")
	}
	return nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, verbose := q["verbose"]

	path := strings.TrimPrefix(r.URL.Path, "/")
	var run []*check
	var excluded, unknown []string
	if path == "" {
		skip := make(map[string]bool)
		for _, name := range q["exclude"] {
			skip[name] = true
			if h.byName[name] == nil {
				unknown = append(unknown, name)
			}
		}
		for _, c := range h.checks {
			if skip[c.name] {
				excluded = append(excluded, c.name)
				continue
			}
			run = append(run, c)
		}
	} else {
		c := h.byName[path]
		if c == nil {
			http.NotFound(w, r)
			return
		}
		run = []*check{c}
	}

	var out strings.Builder
	healthy := true
	for _, c := range run {
		if h.run(c, r) {
			fmt.Fprintf(&out, "[+]%s ok\n", c.name)
		} else {
			healthy = false
			fmt.Fprintf(&out, "[-]%s failed\n", c.name)
		}
	}
	for _, name := range excluded {
		fmt.Fprintf(&out, "[+]%s excluded\n", name)
	}
	if len(unknown) > 0 {
		fmt.Fprintf(&out, "warn: unknown checks excluded: %s\n", strings.Join(unknown, ","))
	}

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	status, summary := http.StatusOK, "ok"
	if !healthy {
		status, summary = http.StatusInternalServerError, "unhealthy"
	}
	w.WriteHeader(status)
	if verbose {
		_, _ = io.WriteString(w, out.String())
	}
	_, _ = io.WriteString(w, summary+"\n")
}

// run runs one check and logs a change of its state.
func (h *handler) run(c *check, r *http.Request) bool {
	err := c.fn(r)
	if err != nil {
		if !c.failing.Swap(true) {
			h.logger.Warn("probe check failed", "check", c.name, "err", err)
		}
		return false
	}
	if c.failing.Swap(false) {
		h.logger.Info("probe check recovered", "check", c.name)
	}
	return true
}
