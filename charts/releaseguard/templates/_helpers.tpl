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

{{/* The operator's ServiceAccount as the API server names it in request.userInfo.username. */}}
{{- define "releaseguard.operatorUsername" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "releaseguard.serviceAccountName" .) -}}
{{- end -}}

{{/* The namespaces a namespaced install watches: the listed ones, or the release's own. The operator
  verifies no rv in an excluded namespace, so it never gets a Role there: listing one fails the render. */}}
{{- define "releaseguard.namespaces" -}}
{{- $namespaces := .Values.watch.namespaces | default (list .Release.Namespace) -}}
{{- range $namespaces -}}
{{- if has . ($.Values.policy.excludedNamespaces | default list) -}}
{{- fail (printf "watch.namespaces: %s is in policy.excludedNamespaces, where the operator verifies nothing; it gets no Role there: remove it from watch.namespaces (or from policy.excludedNamespaces)" .) -}}
{{- end -}}
{{- end -}}
{{- join "," $namespaces -}}
{{- end -}}

{{/* What the operator does in a watched namespace, and nothing more (every API call is in
  operator/releaseguard/operator/kube.py; kopf lists and watches what the handlers name). Shared by
  the ClusterRole and the Roles.
  ReleaseVerifications: listed and watched (kopf), read; their status patched. VerificationRuns (the
  record): created, read, listed, deleted by retention; their status patched once. Deployments:
  watched, patched only to roll back, pause and un-pause. ReplicaSets: listed to find the revision to
  roll back to. Jobs: the probe Jobs. Pods: listed to read the probe pods' termination messages (the
  reports) and why a rollout's pods fail. pods/log (rbac.podLogs): the samples of sampled http checks
  and a crashing container's last line. ConfigMaps: the check scripts, only created (content-named,
  immutable, deleted by the garbage collector with their owner). Events: posted on
  ReleaseVerifications and Deployments (core API, also kopf's). releaseverifications/finalizers: no
  such endpoint; where the OwnerReferencesPermissionEnforcement admission plugin is on, it is the
  permission to create a Job or ConfigMap whose ownerReference to its rv has blockOwnerDeletion.
  KopfPeering: only with two replicas (namespaced installs; cluster-wide ones use ClusterKopfPeering). */}}
{{- define "releaseguard.namespacedRules" -}}
- apiGroups: [releaseguard.io]
  resources: [releaseverifications]
  verbs: [get, list, watch]
- apiGroups: [releaseguard.io]
  resources: [releaseverifications/status]
  verbs: [patch]
- apiGroups: [releaseguard.io]
  resources: [releaseverifications/finalizers]
  verbs: [update]
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
{{- if .Values.rbac.podLogs }}
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
{{- end }}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.watch.allNamespaces) }}
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end -}}

{{/* A CEL expression over the policy's variables: annotation KEY is set to a value it did not have
  (on CREATE: present). Removing an annotation is not setting it. */}}
{{- define "releaseguard.annotationSet" -}}
('{{ . }}' in variables.annotations && (!('{{ . }}' in variables.oldAnnotations) || variables.annotations['{{ . }}'] != variables.oldAnnotations['{{ . }}']))
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

{{/* Reading rvs and their record (the aggregated view role, and so edit and admin). */}}
{{- define "releaseguard.viewRules" -}}
- apiGroups: [releaseguard.io]
  resources: [releaseverifications, releaseverifications/status, verificationruns, verificationruns/status]
  verbs: [get, list, watch]
{{- end -}}

{{/* Writing rvs (what the admission policy then checks), never their status nor the record. */}}
{{- define "releaseguard.editRules" -}}
- apiGroups: [releaseguard.io]
  resources: [releaseverifications]
  verbs: [create, update, patch, delete, deletecollection]
{{- end -}}
