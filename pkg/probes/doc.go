// Package probes serves baton's liveness and readiness endpoints and its
// metrics, in the manner of controller-runtime's pkg/healthz.
//
// A probe endpoint runs named checks. At its root it answers 200 "ok" when
// every check passes and 500 "unhealthy" otherwise; each check is also
// served alone on its own subpath (/readyz/redis). Query parameters:
//
//	?verbose           list every check, "[+]name ok" or "[-]name failed"
//	?exclude=name      skip a check (repeatable)
//
// Why a check failed is never shown to the caller, who may be anyone that
// can reach the port: it is logged instead, once each time the check goes
// from passing to failing, so that a probe every few seconds does not flood
// the log.
//
// Liveness is not leadership: ElectionLoop fails only when the election loop
// is wedged, never because this replica is a follower or Redis is down.
// Readiness that means "is leader" (Leader) deadlocks rolling updates,
// helm --wait and PodDisruptionBudgets, because followers never become
// ready; it is for deployments that opt in knowing that.
package probes
