// Package api serves baton's local HTTP API, through which the application
// next to the sidecar asks who leads and can hand leadership over.
//
// Endpoints:
//
//	GET  /leader             200 when this replica leads, 503 otherwise; the
//	                         body (StatusBody) is the same JSON either way,
//	                         with a child field in exec mode.
//	GET  /leader?wait=30s    long-poll: answers as soon as this replica leads,
//	                         or with 503 when the wait ends; a change of the
//	                         child alone does not answer it.
//	GET  /leader/watch       Server-Sent Events: the status now, then at each
//	                         change that matters, of the election or of the
//	                         child (not the countdown of remaining_ms), with
//	                         keep-alive comments.
//	GET  /                   the elector drop-in: 200 on every replica with
//	                         {"name":"<leader>","last_update":"<RFC 3339>"}
//	                         (ElectorBody; {} while no leader is known), the
//	                         shape of nais/elector's API.
//	GET  /sse                Server-Sent Events of the drop-in: "data: <that
//	                         JSON>" at once and at each change of the leader.
//	POST /leader/release     resign, with an optional hold-off
//	                         (?hold_off=10s or {"hold_off":"10s"}), at most
//	                         election.MaxHoldOff; Options.DefaultHoldOff
//	                         without one, and hold_off=0s to compete
//	                         again at once.
//
// Options.Routes serves more route sets beside these, under the same
// guards: the sidecar mounts the application's locks of pkg/locks/httpapi.
// NewRoutesHandler serves the route sets alone, without an election, as
// schedule mode does with its own /leader (pkg/runs/httpapi's Schedule).
//
// HEAD is accepted wherever GET is. Errors are JSON too ({"error":"..."}),
// with 400 for bad parameters (unknown ones included), 404 for unknown paths
// ("/" itself is the drop-in's, nothing below it) and 405, with an Allow
// header, for wrong methods.
//
// # Exec mode
//
// When baton runs the job as its child (`baton run -- CMD`, with
// Options.Child set), every StatusBody carries the child's state:
//
//	"child": {"running": true, "pid": 4242, "started": "2025-01-02T03:04:05Z",
//	          "stopping": false, "restarts": 1,
//	          "last_exit": {"code": 3, "at": "2025-01-02T03:04:04Z", "by_baton": false}}
//
// pid and started are present only while the child runs; last_exit, from
// the first exit on, holds the exit code (-1 for a signal, with its name in
// signal, or for a start that failed, with start_error). Without a child
// there is no child field at all. The status code stays about leadership:
// a leader whose child has exited still answers 200.
//
// # Who may call
//
// The API is meant to listen on loopback, for the containers of its pod.
// Three guards keep other callers out:
//
//   - Host: every route answers 421 Misdirected Request unless the Host
//     header names localhost, a loopback address (127.0.0.0/8, ::1) or one
//     of Options.AllowedHosts, with or without a port (such as the host of
//     the API's address when that is not loopback; names compare
//     case-insensitively). A web page that reaches 127.0.0.1 through a DNS
//     name it controls (DNS rebinding) sends that name, and looks
//     same-origin to the browser.
//   - Origin: browsers' cross-origin requests that change state are refused
//     with 403 (http.CrossOriginProtection).
//   - Token: with Options.Token set, requests that change state
//     (POST /leader/release, and the mounted routes'
//     state-changing ones) need "Authorization: Bearer <token>", else 401
//     with a WWW-Authenticate challenge. Reads need no token. The token is
//     compared in constant time; it holds only RFC 6750's characters
//     (A-Z a-z 0-9 - . _ ~ + /, then = padding), so a newline read along
//     from a file is an error.
//
// # Slow and numerous clients
//
// Serve the handler with NewServer, whose timeouts and header limit bound
// what a slow client holds. Waiting handlers move their connection's write
// deadline themselves, so a server WriteTimeout shorter than
// Options.MaxWait does not cut a long-poll short, and an event stream lives
// as long as its client. Release bodies are limited to 4 KiB (413 beyond).
// At most Options.MaxWatchers long-polls and event streams (/sse included)
// wait at once; one more gets 503 with a Retry-After header and an
// ErrorBody, which tells it apart from the 503 of "not leader".
//
// What a 200 does not guarantee: that this replica still leads a moment
// later. remaining_ms says how long the term stays valid without another
// renewal, and work that must never overlap should pass the fence to the
// systems it writes to, which can then refuse a stale leader.
package api
