// Package kube publishes an elector's leadership on its own Kubernetes pod,
// for Services, kubectl, readiness gates and humans:
//
//   - the label baton.dev/leader=true|false (the key is configurable), so a
//     Service can select the leader alone and
//     `kubectl get pods -L baton.dev/leader` shows it;
//   - the annotation baton.dev/lock=<lock name>, which scopes the stale-label
//     sweep below to the pods of one lock;
//   - the pod condition baton.dev/leader (True or False, with a reason such as
//     Leading, Following, Resigned or LeaseLost and a message that carries the
//     fence and the holder), set through the pods/status subresource, which
//     users may list in readinessGates;
//   - Events on the pod (events.k8s.io/v1): LeaderElected, LeadershipLost and
//     Resigned, each with the lock, the fence and the holder.
//
// # Decoupled from the lock
//
// A Publisher is an observer. It reads Status snapshots of its Source (an
// *election.Elector) after each Changed wake-up, and the elector never calls
// it, so a slow or failing API server can neither delay nor change the
// election. Only the latest desired state is published: changes that arrive
// while a call is in flight or during a back-off are coalesced. Events are
// derived from consecutive snapshots and queued (at most MaxPendingEvents;
// the oldest are dropped and counted). Terms that start and end entirely
// between two snapshots produce no Events.
//
// Every sync reads the pod (GET), then patches only what differs: the label
// and annotation with a JSON merge patch on the pod, and the condition with a
// strategic merge patch on pods/status. Pod conditions are a list merged by
// type, so the patch touches baton's entry alone and never the kubelet's.
// The condition's lastTransitionTime changes only when its status does. A
// failed sync is retried as a whole with exponential back-off (jittered,
// from MinBackoff up to MaxBackoff), logged once per run of failures (and
// again when the error changes), and counted in
// baton_kube_api_errors_total{op}. There are no informers and no caches:
// only direct GET, LIST, PATCH and CREATE calls, so memory stays flat.
// NewClient makes them through REST clients whose scheme knows core/v1 and
// events.k8s.io/v1 alone: the typed clientset is not linked, as its scheme
// registers every API group at start-up.
//
// # Stale labels
//
// A pod that crashed or was cut off while it led would keep leader=true. Two
// mechanisms correct it, and a periodic re-sync (Options.Resync, the lease
// TTL in the sidecar) repairs any other drift, such as a hand edit:
//
//  1. The restarted pod fixes itself: Run publishes the current state first,
//     and a sidecar that has just started does not lead, so its first write
//     is leader=false.
//  2. The leader fixes the others: after marking itself, and at each re-sync
//     while it leads, it lists the pods of its namespace with the label
//     selector <key>=true (one LIST, no informer) and sets to false the label
//     and condition of every other pod whose baton.dev/lock annotation names
//     the same lock. This is safe because while Status reports Leader, no
//     other candidate can hold the lock; before each patch the publisher
//     reads Status again and stops if it no longer leads with the same fence
//     (or if the pod is somehow the holder), and each patch carries the
//     listed resourceVersion, so a pod that changed in the meantime is left
//     alone (409 Conflict) and looked at again on the next sweep. Pods
//     without the annotation (marked by hand, or by another tool) are never
//     touched.
//
// When Run's context ends, it publishes leader=false one last time, bounded
// by ShutdownTimeout: a stopped publisher must not leave its pod marked as
// leader, since nobody would correct it before the next leader's sweep.
// Stop the publisher after the elector's Run has returned.
//
// # What it does not guarantee
//
// The label, the condition and the Events trail the lock: they are updated
// after the fact, best effort, and may lag by an API round trip, a back-off
// or a re-sync period; for a short time after a handover two pods may carry
// leader=true (or none). They are for routing and observation. Work that
// must never overlap must use the elector's status, its leader context or
// the fencing token, never the label.
//
// # Permissions
//
// RequiredRules lists the exact RBAC rules the publisher uses, in its own
// namespace: pods get, list and patch; pods/status patch; events.k8s.io
// events create.
//
// # Metrics
//
// NewMetrics registers, on the registry it is given:
//
//	baton_kube_api_errors_total{op}           counter: failed API calls; op is get_pod,
//	                                          patch_pod, patch_pod_status, list_pods,
//	                                          create_event or watch_pod; the answers
//	                                          of internal/kubeerr.Expected, such as
//	                                          "Too large resource version", are none
//	baton_kube_syncs_total{result}            counter: syncs of the desired state;
//	                                          result is success or error
//	baton_kube_last_sync_timestamp_seconds    gauge: Unix time of the last successful sync
//	baton_kube_stale_corrections_total        counter: other pods' stale leader marks
//	                                          corrected by this leader
//	baton_kube_events_dropped_total           counter: Events dropped from a full queue
package kube
