{{/*
The backend of the election: backend redis (the default), or kubeLease, a
coordination.k8s.io/v1 Lease named after the lock in the pod's namespace
(baton's --backend kube-lease, which takes the namespace from
POD_NAMESPACE). Each takes the dict of _baton.tpl: top and values.
*/}}

{{/* baton.kubeLease is "true" with backend kubeLease. */}}
{{- define "baton.kubeLease" -}}
{{- if eq (toString .values.backend) "kubeLease" }}true{{ end }}
{{- end }}

{{/*
baton.checkBackend fails on values that baton --backend kube-lease refuses
(cmd/sidecar's redisOnlyFlags and kubeLeaseRules), before any pod
crash-loops on them: Redis settings, which would otherwise be ignored in
silence, schedule mode, a lease TTL that is not whole seconds of at least
2s, a lock that is no Lease name, and no API token to reach the Lease.
*/}}
{{- define "baton.checkBackend" -}}
{{- $v := .values }}
{{- if include "baton.kubeLease" . }}
{{- if eq $v.mode "schedule" }}
{{- fail "mode=schedule cannot run with backend=kubeLease: schedule mode records its runs in Redis (baton run --schedule refuses --backend kube-lease); use backend=redis" }}
{{- end }}
{{- $r := $v.redis }}
{{- $set := dict
  "redis.enabled" $r.enabled
  "redis.addr" $r.addr
  "redis.mode" (ne $r.mode "standalone")
  "redis.masterName" $r.masterName
  "redis.username" $r.username
  "redis.db" $r.db
  "redis.minReplicasAck" $r.minReplicasAck
  "redis.replicaAckTimeout" $r.replicaAckTimeout
  "redis.password.existingSecret" $r.password.existingSecret
  "redis.sentinelPassword.existingSecret" $r.sentinelPassword.existingSecret
  "redis.tls.enabled" $r.tls.enabled
  "keyPrefix" $v.keyPrefix }}
{{- range $name := keys $set | sortAlpha }}
{{- if get $set $name }}
{{- fail (printf "%s does not apply with backend=kubeLease: the election's lease is a Kubernetes Lease, and no Redis is used; delete %s from your values, or use backend=redis" $name $name) }}
{{- end }}
{{- end }}
{{- $ttlName := $v.timings.leaseTTL | default "15s" }}
{{- $ttl := include "baton.durationNs" $ttlName | float64 }}
{{- if or (lt $ttl 2e9) (ne (mod (int64 $ttl) 1000000000) 0) }}
{{- fail (printf "timings.leaseTTL %s must be whole seconds, at least 2s, with backend=kubeLease: a Lease's records have one-second precision" $ttlName) }}
{{- end }}
{{- $lock := include "baton.lockName" . }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" $lock) }}
{{- fail (printf "lock %q must be a Lease name with backend=kubeLease: lower case letters, digits, '-' and '.', starting and ending with a letter or digit" $lock) }}
{{- end }}
{{- if not $v.serviceAccount.automount }}
{{- fail "serviceAccount.automount cannot be false with backend=kubeLease: baton reaches its Lease with the pod's ServiceAccount token" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
baton.leaseRules are the Role's rules on the Lease with backend kubeLease:
get, watch (a follower's watch selects metadata.name, which RBAC checks
against resourceNames) and update of the one Lease, named after the lock.
create cannot be narrowed: RBAC does not know the name of an object before
it exists, so a rule with resourceNames never allows create.
*/}}
{{- define "baton.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "baton.lockName" . | quote }}]
  verbs: ["get", "watch", "update"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
{{- end }}
