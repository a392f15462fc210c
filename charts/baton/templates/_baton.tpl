{{/*
Named templates that render baton into a pod. This chart's own Deployment
uses them, and so can your chart: add baton as a dependency and include
them (see "Use baton in your own chart" in the chart README).

Each takes a dict:
  top     the root context ($) of the calling chart;
  values  baton's values: .Values in this chart, .Values.baton (or your
          alias) in a parent chart, where Helm has merged this chart's
          defaults in.
and optionally:
  appVersion  the default image tag (default: this chart's appVersion).

  baton.sidecar         the baton container, as one list item: put it under
                        initContainers when sidecar.native (the default),
                        under containers otherwise.
  baton.env             baton's environment (used by baton.sidecar).
  baton.appEnv          environment for your containers: BATON_URL.
  baton.volumes         volumes for the Redis TLS files, as list items (may
                        be empty).
  baton.readinessGates  the pod's readinessGates, as list items (empty
                        unless readinessGate.enabled).
  baton.serviceAccount  the ServiceAccount baton's Role is bound to.
*/}}

{{/* baton.lockName is the lock: values.lock, or the release name. */}}
{{- define "baton.lockName" -}}
{{- .values.lock | default .top.Release.Name }}
{{- end }}

{{/* baton.image is repository:tag, the tag defaulting to the appVersion. */}}
{{- define "baton.image" -}}
{{- $tag := .values.image.tag }}
{{- if not $tag }}
{{- if .appVersion }}
{{- $tag = .appVersion }}
{{- else if eq .top.Chart.Name "baton" }}
{{- $tag = .top.Chart.AppVersion }}
{{- else if and (hasKey .top "Subcharts") (hasKey .top.Subcharts "baton") }}
{{- $tag = (index .top.Subcharts "baton").Chart.AppVersion }}
{{- else }}
{{- fail "baton: set image.tag (or pass appVersion) when baton is not a dependency named baton" }}
{{- end }}
{{- end }}
{{- printf "%s:%s" .values.image.repository $tag }}
{{- end }}

{{/*
baton.redisAddr is redis.addr, or the bundled Redis's Service when
redis.enabled, else redis:6379.
*/}}
{{- define "baton.redisAddr" -}}
{{- if .values.redis.addr }}
{{- .values.redis.addr }}
{{- else if .values.redis.enabled }}
{{- $ctx := dict "Values" .values "Chart" (dict "Name" "baton") "Release" .top.Release }}
{{- printf "%s:6379" (include "baton.redisFullname" $ctx) }}
{{- else }}
{{- "redis:6379" }}
{{- end }}
{{- end }}

{{/* Mount paths of the TLS files. */}}
{{- define "baton.caDir" -}}/etc/baton/redis-ca{{- end }}
{{- define "baton.clientCertDir" -}}/etc/baton/redis-client-cert{{- end }}

{{- define "baton.hasCA" -}}
{{- $ca := .values.redis.tls.ca }}
{{- if and .values.redis.tls.enabled (or $ca.secretName $ca.configMapName) }}true{{ end }}
{{- end }}

{{- define "baton.hasClientCert" -}}
{{- if and .values.redis.tls.enabled .values.redis.tls.clientCert.secretName }}true{{ end }}
{{- end }}

{{/* baton.env is the baton container's environment: BATON_<FLAG> each. */}}
{{- define "baton.env" -}}
{{- $v := .values }}
{{- $r := $v.redis -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: BATON_LOCK
  value: {{ include "baton.lockName" . | quote }}
{{- with $v.keyPrefix }}
- name: BATON_KEY_PREFIX
  value: {{ . | quote }}
{{- end }}
- name: BATON_REDIS_ADDR
  value: {{ include "baton.redisAddr" . | quote }}
- name: BATON_REDIS_MODE
  value: {{ $r.mode | quote }}
{{- with $r.masterName }}
- name: BATON_REDIS_MASTER_NAME
  value: {{ . | quote }}
{{- end }}
{{- with $r.username }}
- name: BATON_REDIS_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- if $r.db }}
- name: BATON_REDIS_DB
  value: {{ $r.db | quote }}
{{- end }}
{{- if $r.minReplicasAck }}
- name: BATON_REDIS_MIN_REPLICAS_ACK
  value: {{ $r.minReplicasAck | quote }}
{{- end }}
{{- with $r.replicaAckTimeout }}
- name: BATON_REDIS_REPLICA_ACK_TIMEOUT
  value: {{ . | quote }}
{{- end }}
{{- with $r.password.existingSecret }}
- name: BATON_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $r.password.key | quote }}
{{- end }}
{{- with $r.sentinelPassword.existingSecret }}
- name: BATON_REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $r.sentinelPassword.key | quote }}
{{- end }}
{{- if $r.tls.enabled }}
- name: BATON_REDIS_TLS
  value: "true"
{{- if include "baton.hasCA" . }}
- name: BATON_REDIS_CA_FILE
  value: {{ printf "%s/%s" (include "baton.caDir" .) $r.tls.ca.key | quote }}
{{- end }}
{{- if include "baton.hasClientCert" . }}
- name: BATON_REDIS_CERT_FILE
  value: {{ printf "%s/tls.crt" (include "baton.clientCertDir" .) | quote }}
- name: BATON_REDIS_KEY_FILE
  value: {{ printf "%s/tls.key" (include "baton.clientCertDir" .) | quote }}
{{- end }}
{{- with $r.tls.serverName }}
- name: BATON_REDIS_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with $v.timings.leaseTTL }}
- name: BATON_LEASE_TTL
  value: {{ . | quote }}
{{- end }}
{{- with $v.timings.renewInterval }}
- name: BATON_RENEW_INTERVAL
  value: {{ . | quote }}
{{- end }}
{{- with $v.timings.renewDeadline }}
- name: BATON_RENEW_DEADLINE
  value: {{ . | quote }}
{{- end }}
{{- with $v.timings.releaseTimeout }}
- name: BATON_RELEASE_TIMEOUT
  value: {{ . | quote }}
{{- end }}
- name: BATON_READY_WHEN
  value: {{ $v.readyWhen | quote }}
- name: BATON_LOG_FORMAT
  value: {{ $v.logFormat | quote }}
- name: BATON_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: BATON_API_ADDR
  value: {{ printf "127.0.0.1:%d" (int $v.sidecar.apiPort) | quote }}
- name: BATON_PROBE_ADDR
  value: {{ printf ":%d" (int $v.sidecar.probePort) | quote }}
- name: BATON_KUBE
  value: {{ $v.kube.publish | quote }}
- name: BATON_KUBE_LABEL_KEY
  value: {{ $v.kube.labelKey | quote }}
{{- with $v.sidecar.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* baton.appEnv is the environment for your containers. */}}
{{- define "baton.appEnv" -}}
- name: BATON_URL
  value: {{ printf "http://127.0.0.1:%d" (int .values.sidecar.apiPort) | quote }}
{{- end }}

{{/* baton.volumeMounts are baton's mounts of the TLS files. */}}
{{- define "baton.volumeMounts" -}}
{{- if include "baton.hasCA" . }}
- name: baton-redis-ca
  mountPath: {{ include "baton.caDir" . }}
  readOnly: true
{{- end }}
{{- if include "baton.hasClientCert" . }}
- name: baton-redis-client-cert
  mountPath: {{ include "baton.clientCertDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* baton.volumes are the pod's volumes for baton's TLS files. */}}
{{- define "baton.volumes" -}}
{{- include "baton.volumesUntrimmed" . | trim }}
{{- end }}

{{- define "baton.volumesUntrimmed" -}}
{{- $tls := .values.redis.tls }}
{{- if include "baton.hasCA" . }}
- name: baton-redis-ca
{{- if $tls.ca.secretName }}
  secret:
    secretName: {{ $tls.ca.secretName | quote }}
    items:
      - key: {{ $tls.ca.key | quote }}
        path: {{ $tls.ca.key | quote }}
{{- else }}
  configMap:
    name: {{ $tls.ca.configMapName | quote }}
    items:
      - key: {{ $tls.ca.key | quote }}
        path: {{ $tls.ca.key | quote }}
{{- end }}
{{- end }}
{{- if include "baton.hasClientCert" . }}
- name: baton-redis-client-cert
  secret:
    secretName: {{ $tls.clientCert.secretName | quote }}
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end }}

{{/* baton.readinessGates gate the pod's readiness on the leader condition. */}}
{{- define "baton.readinessGates" -}}
{{- if .values.readinessGate.enabled }}- conditionType: baton.dev/leader{{ end }}
{{- end }}

{{/*
baton.sidecar is the baton container as one list item.

Native (sidecar.native, Kubernetes >= 1.29): an init container with
restartPolicy Always. The kubelet starts the next containers only once its
startup probe passes, and at termination stops them first and baton last,
so the lock is released only after your containers have exited.

Classic: a second ordinary container, with a preStop sleep that delays its
SIGTERM; see values.yaml for what this loses.
*/}}
{{- define "baton.sidecar" -}}
{{- $v := .values }}
{{- $s := $v.sidecar -}}
- name: {{ $s.name | default "baton" }}
  image: {{ include "baton.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $s.native }}
  restartPolicy: Always
  {{- end }}
  env:
    {{- include "baton.env" . | nindent 4 }}
  ports:
    - name: probes
      containerPort: {{ $s.probePort }}
      protocol: TCP
  startupProbe:
    httpGet:
      {{- if eq $v.readyWhen "leader" }}
      path: /healthz
      {{- else }}
      path: /readyz
      {{- end }}
      port: probes
    periodSeconds: {{ $s.startupProbe.periodSeconds }}
    failureThreshold: {{ $s.startupProbe.failureThreshold }}
    timeoutSeconds: {{ $s.startupProbe.timeoutSeconds }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: probes
    periodSeconds: {{ $s.livenessProbe.periodSeconds }}
    failureThreshold: {{ $s.livenessProbe.failureThreshold }}
    timeoutSeconds: {{ $s.livenessProbe.timeoutSeconds }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: probes
    periodSeconds: {{ $s.readinessProbe.periodSeconds }}
    failureThreshold: {{ $s.readinessProbe.failureThreshold }}
    timeoutSeconds: {{ $s.readinessProbe.timeoutSeconds }}
  {{- if $s.lifecycle }}
  lifecycle:
    {{- toYaml $s.lifecycle | nindent 4 }}
  {{- else if and (not $s.native) $s.preStopSleepSeconds }}
  lifecycle:
    preStop:
      sleep:
        seconds: {{ $s.preStopSleepSeconds }}
  {{- end }}
  {{- with $s.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $mounts := include "baton.volumeMounts" . | trim }}
  {{- if $mounts }}
  volumeMounts:
    {{- $mounts | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
baton.serviceAccount is the ServiceAccount that baton's RBAC binds, as this
chart (or baton as your dependency) names it: use it as your pod's
serviceAccountName.
*/}}
{{- define "baton.serviceAccount" -}}
{{- $ctx := dict "Values" .values "Chart" (dict "Name" "baton") "Release" .top.Release }}
{{- include "baton.serviceAccountName" $ctx }}
{{- end }}
