// Package api serves baton's local HTTP API, through which the application
// next to the sidecar asks who leads and can hand leadership over.
//
// Endpoints:
//
//	GET  /leader             200 when this replica leads, 503 otherwise; the
//	                         body (StatusBody) is the same JSON either way.
//	GET  /leader?wait=30s    long-poll: answers as soon as this replica leads,
//	                         or with 503 when the wait ends.
//	GET  /leader/watch       Server-Sent Events: the status now, then at each
//	                         change that matters (not the countdown of
//	                         remaining_ms), with keep-alive comments.
//	POST /leader/release     resign, with an optional hold-off
//	                         (?hold_off=10s or {"hold_off":"10s"}), at most
//	                         election.MaxHoldOff.
//
// HEAD is accepted wherever GET is. Errors are JSON too ({"error":"..."}),
// with 400 for bad parameters (unknown ones included), 404 for unknown paths
// and 405, with an Allow header, for wrong methods.
//
// # Who may call
//
// The API is meant to listen on loopback, for the containers of its pod.
// Three guards keep other callers out:
//
//   - Host: every route answers 421 Misdirected Request unless the Host
//     header names localhost, a loopback address (127.0.0.0/8, ::1) or one
//     of Options.AllowedHosts, with or without a port. A web page that
//     reaches 127.0.0.1 through a DNS name it controls (DNS rebinding)
//     sends that name, and looks same-origin to the browser.
//   - Origin: browsers' cross-origin requests that change state are refused
//     with 403 (http.CrossOriginProtection).
//   - Token: with Options.Token set, requests that change state
//     (POST /leader/release) need "Authorization: Bearer <token>", else 401
//     with a WWW-Authenticate challenge. Reads need no token.
//
// # Slow and numerous clients
//
// Serve the handler with NewServer, whose timeouts and header limit bound
// what a slow client holds. Waiting handlers move their connection's write
// deadline themselves, so a server WriteTimeout shorter than
// Options.MaxWait does not cut a long-poll short, and an event stream lives
// as long as its client. Release bodies are limited to 4 KiB (413 beyond).
// At most Options.MaxWatchers long-polls and event streams wait at once;
// one more gets 503 with a Retry-After header and an ErrorBody, which tells
// it apart from the 503 of "not leader".
//
// What a 200 does not guarantee: that this replica still leads a moment
// later. remaining_ms says how long the term stays valid without another
// renewal, and work that must never overlap should pass the fence to the
// systems it writes to, which can then refuse a stale leader.
package api
