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
  baton.serviceAccount  the ServiceAccount baton's Role is bound to.

Exec mode (mode=exec) and schedule mode (mode=schedule), as this chart's
Deployment renders them:

  baton.installer       the init container that copies baton's binary into
                        the baton-bin volume (part of baton.volumes).
  baton.execCommand     the command of your container: baton run (with
                        --schedule and its flags in schedule mode), "--",
                        then app.command.
  baton.probes          baton's startup, liveness and readiness probes, on
                        the port named probes (baton.sidecar's too).
  baton.checkExec       fails on what exec and schedule mode cannot run.
*/}}

{{/* baton.runsCommand is "true" when baton runs your command: mode exec or schedule. */}}
{{- define "baton.runsCommand" -}}
{{- if has .values.mode (list "exec" "schedule") }}true{{ end }}
{{- end }}

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
{{- if and .values.redis.tls.enabled (or $ca.secretName $ca.configMapName) (not (include "baton.kubeLease" .)) }}true{{ end }}
{{- end }}

{{- define "baton.hasClientCert" -}}
{{- if and .values.redis.tls.enabled .values.redis.tls.clientCert.secretName (not (include "baton.kubeLease" .)) }}true{{ end }}
{{- end }}

{{/*
baton.env is the baton container's environment: BATON_<FLAG> each, those of
baton run too in exec mode.
*/}}
{{- define "baton.env" -}}
{{- include "baton.checkBackend" . }}
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
{{- if include "baton.kubeLease" . }}
{{- /* The Lease's namespace is the pod's: POD_NAMESPACE above. */}}
- name: BATON_BACKEND
  value: "kube-lease"
{{- else }}
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
{{- if and $r.minReplicasAck (ne $v.mode "schedule") }}
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
{{- /* Always connected: see removed-values.yaml. */}}
- name: BATON_READY_WHEN
  value: "connected"
- name: BATON_LOG_FORMAT
  value: {{ $v.logFormat | quote }}
- name: BATON_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: BATON_API_ADDR
  value: {{ printf "127.0.0.1:%d" (int $v.sidecar.apiPort) | quote }}
- name: BATON_PROBE_ADDR
  value: {{ printf ":%d" (int $v.sidecar.probePort) | quote }}
{{- /* Schedule mode runs no election: nothing to publish on the pod. */}}
{{- if ne $v.mode "schedule" }}
- name: BATON_KUBE
  value: {{ $v.kube.publish | quote }}
- name: BATON_KUBE_LABEL_KEY
  value: {{ $v.kube.labelKey | quote }}
{{- end }}
{{- if include "baton.runsCommand" . }}
{{- with $v.exec.killGrace }}
- name: BATON_KILL_GRACE
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- if eq $v.mode "exec" }}
- name: BATON_ON_EXIT
  value: {{ $v.exec.onExit | quote }}
{{- end }}
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

{{/*
baton.volumes are the pod's volumes for baton's TLS files and, in exec
mode, for its binary.
*/}}
{{- define "baton.volumes" -}}
{{- include "baton.volumesUntrimmed" . | trim }}
{{- end }}

{{- define "baton.volumesUntrimmed" -}}
{{- $tls := .values.redis.tls }}
{{- if include "baton.runsCommand" . }}
- name: baton-bin
  emptyDir: {}
{{- end }}
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

{{/*
baton.readinessGates was removed with leader-gated readiness (see
removed-values.yaml): it is kept only to tell a chart that still includes
it what to do.
*/}}
{{- define "baton.readinessGates" -}}
{{- fail "baton.readinessGates was removed from the baton chart with leader-gated readiness, which stalls every rollout (only the leader is ever Ready): delete its include and the readinessGates around it. Every pod that reaches Redis is Ready; to send traffic to the leader alone, use a Service that selects the leader label (kube.labelKey=true), as the chart's leaderService does" }}
{{- end }}

{{/*
baton.probes are baton's probes, for the container baton runs in (its own,
or yours in exec mode), which must expose the port named probes. Startup:
/readyz (the election runs and Redis answers).
*/}}
{{- define "baton.probes" -}}
{{- $v := .values }}
{{- $s := $v.sidecar -}}
startupProbe:
  httpGet:
    path: /readyz
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
  {{- include "baton.probes" . | nindent 2 }}
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

{{/* Where exec mode puts baton's binary: the baton-bin volume. */}}
{{- define "baton.binDir" -}}/baton-bin{{- end }}

{{/*
baton.installer is exec mode's init container, as one list item: baton's
image copies its static binary into the baton-bin emptyDir (the image is
distroless: it has no cp), from which your container runs it. It is an
ordinary init container, so your container starts only once the copy is
complete.
*/}}
{{- define "baton.installer" -}}
{{- $v := .values }}
{{- $s := $v.sidecar -}}
- name: baton-install
  image: {{ include "baton.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  command:
    - /baton
    - install
    - {{ printf "%s/baton" (include "baton.binDir" .) }}
  {{- with $s.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: baton-bin
      mountPath: {{ include "baton.binDir" . }}
{{- end }}

{{/*
baton.execCommand is your container's command in exec and schedule mode:
baton run, configured by baton.env, then "--" and app.command. Kubernetes
appends app.args (the container's args) after it, as it would to
app.command. The schedule's flags are arguments, not BATON_* variables, so
that the pod spec shows baton run --schedule=... for what it is.
*/}}
{{- define "baton.execCommand" -}}
{{- $s := .values.schedule -}}
- {{ printf "%s/baton" (include "baton.binDir" .) }}
- run
{{- if eq .values.mode "schedule" }}
- {{ printf "--schedule=%s" $s.spec | quote }}
{{- with $s.timeZone }}
- {{ printf "--time-zone=%s" . | quote }}
{{- end }}
- {{ printf "--max-attempts=%d" (int $s.maxAttempts) | quote }}
- {{ printf "--catch-up=%s" $s.catchUp | quote }}
{{- with $s.attemptDeadline }}
- {{ printf "--attempt-deadline=%s" . | quote }}
{{- end }}
{{- end }}
- --
{{- range .values.app.command }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
baton.durationNs is a Go duration, as the schema's #/definitions/duration
admits it, in nanoseconds (a float64, exact below 104 days); "0" for "".
*/}}
{{- define "baton.durationNs" -}}
{{- $units := dict "ns" 1.0 "us" 1e3 "µs" 1e3 "ms" 1e6 "s" 1e9 "m" 6e10 "h" 3.6e12 }}
{{- $ns := 0.0 }}
{{- range regexFindAll "([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h)" . -1 }}
{{- $num := regexFind "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)" . }}
{{- $ns = addf $ns (mulf (float64 $num) (get $units (trimPrefix $num .))) }}
{{- end }}
{{- $ns }}
{{- end }}

{{/*
baton.checkExec fails on values that exec mode cannot run, before any pod
crash-loops on them: no app.command (the schema refuses it too), and an
exec.killGrace that baton run would refuse. The command must be dead, its
SIGKILL and reap included, before the lease can expire after a deadline
step-down (leaseTTL - renewDeadline) and within the elector's bound on a
graceful one (releaseTimeout): the grace may take that budget, the smaller
of the two, less a slack of a quarter of it, at most 1s (cmd/sidecar's
maxKillGrace). An empty killGrace is baton's default, which fits by
construction. Empty timings take baton's defaults, as pkg/election defines
them (the chart's tests compare): leaseTTL 15s, renewDeadline 2*leaseTTL/3,
releaseTimeout 5s.
*/}}
{{- define "baton.checkExec" -}}
{{- $v := .values }}
{{- if not $v.app.command }}
{{- if eq $v.mode "schedule" }}
{{- fail "mode=schedule needs app.command: baton runs it once per window, and Kubernetes cannot read the image's entrypoint" }}
{{- end }}
{{- fail "mode=exec needs app.command: baton runs it while the replica leads, and Kubernetes cannot read the image's entrypoint" }}
{{- end }}
{{- if eq $v.mode "schedule" }}
{{- include "baton.checkSchedule" . }}
{{- end }}
{{- if $v.exec.killGrace }}
{{- $t := $v.timings }}
{{- $ttl := include "baton.durationNs" ($t.leaseTTL | default "15s") | float64 }}
{{- $deadline := include "baton.durationNs" $t.renewDeadline | float64 }}
{{- $deadlineName := $t.renewDeadline }}
{{- if not $t.renewDeadline }}
{{- $deadline = divf (mulf 2 $ttl) 3 | floor }}
{{- $deadlineName = "2*leaseTTL/3" }}
{{- end }}
{{- $release := include "baton.durationNs" ($t.releaseTimeout | default "5s") | float64 }}
{{- $grace := include "baton.durationNs" $v.exec.killGrace | float64 }}
{{- $margin := subf $ttl $deadline }}
{{- $budget := $margin }}
{{- if lt $release $budget }}
{{- $budget = $release }}
{{- end }}
{{- $slack := divf $budget 4 | floor }}
{{- if gt $slack 1e9 }}
{{- $slack = 1e9 }}
{{- end }}
{{- $max := subf $budget $slack }}
{{- if le $grace 0.0 }}
{{- fail (printf "exec.killGrace %q must be a Go duration above 0, such as 2s, or empty for baton's default" $v.exec.killGrace) }}
{{- end }}
{{- if gt $grace $max }}
{{- fail (printf "exec.killGrace %s must be at most %gs: your command's stop must fit in the smaller of timings.leaseTTL - timings.renewDeadline (%s - %s = %gs) and timings.releaseTimeout (%s), less a slack of a quarter of that, at most 1s, for SIGKILL, the reap and a late step-down timer (%gs here), so that your command is dead before another replica can lead; leave it empty for baton's default" $v.exec.killGrace (divf $max 1e9) ($t.leaseTTL | default "15s") $deadlineName (divf $margin 1e9) ($t.releaseTimeout | default "5s") (divf $slack 1e9)) }}
{{- end }}
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

{{/*
baton.checkSchedule fails on values that baton run --schedule refuses
(cmd/sidecar's scheduleRules), or that mean nothing without an election,
before any pod crash-loops on them. The spec, the time zone and the
numbers are the schema's; baton parses the spec and loads the zone itself
at start and exits 2 on a bad one.
*/}}
{{- define "baton.checkSchedule" -}}
{{- $v := .values }}
{{- $s := $v.schedule }}
{{- $why := "mode=schedule runs no election: a claim of each window decides which replica runs it" }}
{{- if not $s.spec }}
{{- fail "mode=schedule needs schedule.spec, such as \"0 3 * * *\" or \"@every 10m\"" }}
{{- end }}
{{- if ne $v.exec.onExit "exit" }}
{{- fail (printf "exec.onExit %q does not apply with mode=schedule: each window's run ends with its command; delete exec.onExit from your values" $v.exec.onExit) }}
{{- end }}
{{- if $v.leaderService.enabled }}
{{- fail (printf "leaderService.enabled cannot be true with mode=schedule: %s, so no pod is labelled leader and the Service would have no endpoint" $why) }}
{{- end }}
{{- if eq (toString $v.kube.publish) "true" }}
{{- fail (printf "kube.publish cannot be true with mode=schedule: %s, and there is no leader label, condition or Event to publish" $why) }}
{{- end }}
{{- if $v.redis.minReplicasAck }}
{{- fail "redis.minReplicasAck is not supported with mode=schedule (baton run --schedule refuses --redis-min-replicas-ack); set it to 0" }}
{{- end }}
{{- $ttl := include "baton.durationNs" ($v.timings.leaseTTL | default "15s") | float64 }}
{{- if or (gt $ttl 8.64e13) (ne (mod (int64 $ttl) 1000000) 0) }}
{{- fail (printf "timings.leaseTTL %s must be a whole number of milliseconds, at most 24h, with mode=schedule: it is each run's lease" $v.timings.leaseTTL) }}
{{- end }}
{{- with $s.attemptDeadline }}
{{- $d := include "baton.durationNs" . | float64 }}
{{- if ne (mod (int64 $d) 1000000) 0 }}
{{- fail (printf "schedule.attemptDeadline %s must be a whole number of milliseconds, or empty for none" .) }}
{{- end }}
{{- end }}
{{- end }}
