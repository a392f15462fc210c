// Package metrics exposes baton's Prometheus metrics and records an
// elector's events into them: *Metrics implements election.Recorder.
//
// New registers everything on the registry it is given, never on the global
// default one. The metrics, all prefixed baton_ except the one gauge that
// dashboards of other leader elections already know:
//
//	baton_is_leader                        gauge: 1 while this replica leads, else 0
//	leader_election_master_status{name}    gauge: the same, under the ecosystem's name;
//	                                       name is the lock's name
//	baton_leader_transitions_total         counter: changes of leadership, both ways
//	baton_fence                            gauge: the current term's fencing token while
//	                                       leading, 0 when not leading
//	baton_acquire_wait_seconds             histogram: from starting to campaign to winning
//	baton_renew_duration_seconds           histogram: one renewal's round trip
//	baton_renew_failures_total{reason}     counter: failed renewals; reason is
//	                                       lost, timeout or error
//	baton_redis_errors_total{op}           counter: failed Redis operations; op is
//	                                       acquire, renew, release, ping or other
//	baton_build_info{version,revision,goversion}  gauge: always 1
//
// New also registers the standard Go runtime collector (go_*) and process
// collector (process_*), so a registry given to New serves a complete
// scrape.
//
// Every labelled series exists from the start with value 0, so rates and
// alerts work before the first failure.
package metrics
