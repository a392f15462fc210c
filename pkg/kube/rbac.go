package kube

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

// RequiredRules are the RBAC rules the Publisher needs in its pod's
// namespace, and nothing more: a Role with exactly these rules, bound to the
// pod's ServiceAccount, lets it publish. The Helm chart's and config/'s Role
// must match them.
//
//   - pods get: read its own pod before patching (compare, keep the
//     condition's lastTransitionTime, take the UID for Events);
//   - pods list: the leader's sweep for stale leader labels (label selector);
//   - pods watch: its own pod (field selector), to withdraw from the
//     election as soon as the pod is being deleted;
//   - pods patch: the leader label and the lock annotation;
//   - pods/status patch: the baton.dev/leader condition;
//   - events.k8s.io events create: LeaderElected, LeadershipLost, Resigned.
var RequiredRules = []rbacv1.PolicyRule{
	{
		APIGroups: []string{""},
		Resources: []string{"pods"},
		Verbs:     []string{"get", "list", "watch", "patch"},
	},
	{
		APIGroups: []string{""},
		Resources: []string{"pods/status"},
		Verbs:     []string{"patch"},
	},
	{
		APIGroups: []string{"events.k8s.io"},
		Resources: []string{"events"},
		Verbs:     []string{"create"},
	},
}
