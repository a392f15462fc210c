{{/*
The helpers of `helm create`: name, fullname, chart, labels and selector
labels. Selector labels are only name and instance, so they never change
across upgrades.
*/}}

{{/* baton.name is the chart name, or nameOverride. */}}
{{- define "baton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
baton.fullname is the name of the release's objects: fullnameOverride, or
the release name when it already contains the chart name, else
<release>-<chart>. Truncated to 63 characters, the DNS label limit.
*/}}
{{- define "baton.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* baton.chart is name-version, as used by the helm.sh/chart label. */}}
{{- define "baton.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
baton.labels are the labels of every object: those of helm create, then
commonLabels (which the schema forbids to replace them).
*/}}
{{- define "baton.labels" -}}
helm.sh/chart: {{ include "baton.chart" . }}
{{ include "baton.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* baton.selectorLabels select the release's pods. Never change them. */}}
{{- define "baton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "baton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* baton.serviceAccountName is the ServiceAccount the pods run as. */}}
{{- define "baton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "baton.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
baton.strategy is the Deployment's update strategy: the rolling update of
.Values.strategy. Every replica that reaches Redis is Ready (baton's
--ready-when=connected), so the Deployment controller's availability
arithmetic holds as for any workload: by default a new pod joins
(maxSurge 1) before an old one leaves (maxUnavailable 0), and kubectl
rollout status and helm --wait complete. (Readiness gated on leadership
could not: only one pod is ever Ready, see removed-values.yaml.)
*/}}
{{- define "baton.strategy" -}}
type: RollingUpdate
rollingUpdate:
  maxSurge: {{ .Values.strategy.maxSurge }}
  maxUnavailable: {{ .Values.strategy.maxUnavailable }}
{{- end }}

{{/* baton.redisFullname names the optional bundled Redis. */}}
{{- define "baton.redisFullname" -}}
{{- printf "%s-redis" (include "baton.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
baton.redisSelectorLabels select the bundled Redis. Its name label differs,
so that the workload's selector never matches it.
*/}}
{{- define "baton.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-redis" (include "baton.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}
