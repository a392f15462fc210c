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
//	                         (?hold_off=10s or {"hold_off":"10s"}).
//
// HEAD is accepted wherever GET is. Errors are JSON too ({"error":"..."}),
// with 400 for bad parameters (unknown ones included), 404 for unknown paths
// and 405, with an Allow header, for wrong methods.
//
// POST /leader/release changes state, so the API is meant to listen on
// loopback only. Browsers' cross-origin POSTs to it are refused
// (http.CrossOriginProtection); there is no other authentication.
//
// Waiting handlers extend their connection's write deadline, so a server
// WriteTimeout shorter than Options.MaxWait does not cut a long-poll short,
// and an event stream lives as long as its client.
//
// What a 200 does not guarantee: that this replica still leads a moment
// later. remaining_ms says how long the term stays valid without another
// renewal, and work that must never overlap should pass the fence to the
// systems it writes to, which can then refuse a stale leader.
package api
