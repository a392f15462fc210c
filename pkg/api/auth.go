package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// validToken checks Options.Token: empty, or 1 to MaxTokenLen characters of
// RFC 6750's b64token. Its messages never quote the token.
func validToken(token string) error {
	if len(token) > MaxTokenLen {
		return invalid("Token", "must be at most %d characters (got %d)", MaxTokenLen, len(token))
	}
	body := strings.TrimRight(token, "=")
	if token != "" && body == "" {
		return invalid("Token", "must not be only '=' padding")
	}
	for i, c := range body {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("-._~+/", c):
		default:
			return invalid("Token", "must hold only A-Z a-z 0-9 - . _ ~ + / and trailing '=' (character %d is %q; a trailing newline from a file must be trimmed)", i, c)
		}
	}
	return nil
}

// tokenGuard requires "Authorization: Bearer <token>" of every request
// through it, when a token is set.
type tokenGuard struct {
	// sum is the token's SHA-256: comparing hashes takes the same time
	// whatever the length of the token presented.
	sum [sha256.Size]byte
	set bool
}

func newTokenGuard(token string) tokenGuard {
	return tokenGuard{sum: sha256.Sum256([]byte(token)), set: token != ""}
}

// guard answers 401 with a WWW-Authenticate challenge (RFC 6750) to
// requests without the right token.
func (g tokenGuard) guard(h *handler, next http.Handler) http.Handler {
	if !g.set {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, presented, found := strings.Cut(r.Header.Get("Authorization"), " ")
		switch {
		case !found || !strings.EqualFold(scheme, "Bearer"):
			w.Header().Set("WWW-Authenticate", `Bearer realm="baton"`)
			h.writeError(w, r, http.StatusUnauthorized, "this request changes state: it needs an Authorization: Bearer header with the API token")
			return
		case !g.matches(strings.TrimSpace(presented)):
			w.Header().Set("WWW-Authenticate", `Bearer realm="baton", error="invalid_token"`)
			h.log.Warn("request with a wrong API token refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			h.writeError(w, r, http.StatusUnauthorized, "wrong API token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g tokenGuard) matches(presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], g.sum[:]) == 1
}
