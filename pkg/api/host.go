package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// hostPolicy says which Host headers the API answers to. A browser sends
// the name it resolved, so a page that reaches 127.0.0.1 through a rebound
// DNS name (attacker.example resolving to 127.0.0.1) still sends Host:
// attacker.example, and its requests look same-origin to the browser and
// to http.CrossOriginProtection alike. Answering only to loopback and the
// configured names shuts that door.
type hostPolicy struct {
	names map[string]bool // lower case
	addrs map[netip.Addr]bool
}

// newHostPolicy checks and indexes Options.AllowedHosts.
func newHostPolicy(allowed []string) (hostPolicy, error) {
	p := hostPolicy{names: map[string]bool{}, addrs: map[netip.Addr]bool{}}
	for i, entry := range allowed {
		host, ok := hostOf(entry)
		if !ok || host == "" {
			return p, invalid(fmt.Sprintf("AllowedHosts[%d]", i), "must be a host name or IP address, optionally with a port (got %q)", entry)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if a.IsUnspecified() {
				return p, invalid(fmt.Sprintf("AllowedHosts[%d]", i), "must name a host: %q is the unspecified address, which no client sends; list the names clients use", entry)
			}
			p.addrs[a.Unmap().WithZone("")] = true
			continue
		}
		if !validHostName(host) {
			return p, invalid(fmt.Sprintf("AllowedHosts[%d]", i), "must be a host name or IP address, optionally with a port (got %q)", entry)
		}
		p.names[strings.ToLower(host)] = true
	}
	return p, nil
}

// allows reports whether a request with Host header hostport is served.
func (p hostPolicy) allows(hostport string) bool {
	host, ok := hostOf(hostport)
	if !ok || host == "" {
		return false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap().WithZone("")
		return a.IsLoopback() || p.addrs[a]
	}
	host = strings.ToLower(host)
	return host == "localhost" || p.names[host]
}

// guard answers 421 to every request whose Host is not allowed.
func (p hostPolicy) guard(h *handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.allows(r.Host) {
			h.writeError(w, r, http.StatusMisdirectedRequest,
				"Host %q is not served here: use localhost, a loopback address or a configured host name", r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostOf returns the host of hostport, "host", "host:port", "[v6]" or
// "[v6]:port", without brackets. It is false when hostport has none of
// these forms or its port is not a number.
func hostOf(hostport string) (string, bool) {
	host, port := hostport, ""
	if rest, ok := strings.CutPrefix(hostport, "["); ok {
		var found bool
		host, port, found = strings.Cut(rest, "]")
		if a, err := netip.ParseAddr(host); !found || err != nil || !a.Is6() {
			return "", false
		}
		if port != "" {
			p, ok := strings.CutPrefix(port, ":")
			if !ok {
				return "", false
			}
			port = p
			if port == "" {
				return "", false
			}
		}
	} else if strings.Count(hostport, ":") == 1 {
		host, port, _ = strings.Cut(hostport, ":")
		if port == "" {
			return "", false
		}
	}
	// More than one colon and no brackets: a bare IPv6 address, no port.
	for _, c := range port {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return host, true
}

// validHostName reports whether s looks like a DNS name: letters, digits,
// hyphens and dots, at most 253 bytes.
func validHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}
