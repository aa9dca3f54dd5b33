{{- define "releaseguard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "releaseguard.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "releaseguard.labels" -}}
{{ include "releaseguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: releaseguard
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "releaseguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "releaseguard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "releaseguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The namespaces a namespaced install watches: the listed ones, or the release's own. */}}
{{- define "releaseguard.namespaces" -}}
{{- $namespaces := .Values.watch.namespaces | default (list .Release.Namespace) -}}
{{- join "," $namespaces -}}
{{- end -}}

{{/* What the operator does in a watched namespace, and nothing more. Shared by the ClusterRole and the Roles.
  ReleaseVerifications: watched, their status written. Deployments: watched, patched only to roll back.
  ReplicaSets: listed to find the revision to roll back to. Jobs: the probe Jobs. Pods: listed to read the
  probe pods' termination messages (the reports). Events: posted on ReleaseVerifications and Deployments. */}}
{{- define "releaseguard.namespacedRules" -}}
- apiGroups: [releaseguard.io]
  resources: [releaseverifications]
  verbs: [get, list, watch]
- apiGroups: [releaseguard.io]
  resources: [releaseverifications/status]
  verbs: [get, patch]
- apiGroups: [releaseguard.io]
  resources: [verificationruns]
  verbs: [get, list, create, delete]
- apiGroups: [releaseguard.io]
  resources: [verificationruns/status]
  verbs: [patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, patch]
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [list]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create]
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end -}}

{{/*
A CEL expression that is true when the JSON value `.value` holds nothing more than `.levels`
levels below it. CEL has no recursion, so the walk is unrolled: each level takes the values of a
map or the items of a list and asks the same of each. Call with (dict "value" EXPR "levels" N).
*/}}
{{- define "releaseguard.jsonWithin" -}}
{{- $v := .value -}}
{{- if le (int .levels) 0 -}}
(type({{ $v }}) == map || type({{ $v }}) == list ? size({{ $v }}) == 0 : true)
{{- else -}}
{{- $child := printf "l%d" (int .levels) -}}
(type({{ $v }}) == map ? {{ $v }}.map(k, {{ $v }}[k]) : type({{ $v }}) == list ? {{ $v }} : []).all({{ $child }}, {{ include "releaseguard.jsonWithin" (dict "value" $child "levels" (sub (int .levels) 1)) }})
{{- end -}}
{{- end -}}
