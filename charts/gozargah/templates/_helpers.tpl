{{/* Names, labels and the image, defined once. */}}

{{- define "gozargah.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object name: the release name, plus the chart name unless it already holds it. */}}
{{- define "gozargah.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "gozargah.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gozargah.operator.fullname" -}}
{{- printf "%s-operator" (include "gozargah.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gozargah.dataplane.fullname" -}}
{{- printf "%s-dataplane" (include "gozargah.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of one bus's objects; takes (list $ $bus). */}}
{{- define "gozargah.bus.fullname" -}}
{{- $ := index . 0 -}}{{- $bus := index . 1 -}}
{{- printf "%s-%s" (include "gozargah.dataplane.fullname" $) $bus.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gozargah.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "gozargah.labels" -}}
helm.sh/chart: {{ include "gozargah.chart" . }}
app.kubernetes.io/name: {{ include "gozargah.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gozargah
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels; takes (list $ component) — component is "operator" or "dataplane". */}}
{{- define "gozargah.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "gozargah.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Selector labels of one bus's pods; takes (list $ $bus). */}}
{{- define "gozargah.bus.selectorLabels" -}}
{{ include "gozargah.selectorLabels" (list (index . 0) "dataplane") }}
gozargah.io/bus: {{ (index . 1).name }}
{{- end -}}

{{- define "gozargah.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Writes src's keys over dst, recursing into maps; takes (list dst src). Unlike mergeOverwrite, an
empty value (false, 0, "", [], {}) given by src wins too: a bus can turn off what busDefaults turns on.
*/}}
{{- define "gozargah.overlay" -}}
{{- $dst := index . 0 -}}
{{- range $k, $v := index . 1 -}}
{{- if and (kindIs "map" $v) (kindIs "map" (index $dst $k)) -}}
{{- include "gozargah.overlay" (list (index $dst $k) $v) -}}
{{- else -}}
{{- $_ := set $dst $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A bus entry completed with busDefaults (the bus's own keys win, key by key); takes (list $ $bus), returns YAML. */}}
{{- define "gozargah.bus" -}}
{{- $ := index . 0 -}}
{{- $bus := deepCopy $.Values.busDefaults -}}
{{- include "gozargah.overlay" (list $bus (deepCopy (index . 1))) -}}
{{- if and $bus.clientCA.secretName (not $bus.tls.secretName) -}}
{{- fail (printf "buses[%s]: clientCA.secretName needs tls.secretName: client certificates are only asked for over TLS" $bus.name) -}}
{{- end -}}
{{- if and $bus.autoscaling.enabled (lt (int $bus.autoscaling.maxReplicas) (int $bus.autoscaling.minReplicas)) -}}
{{- fail (printf "buses[%s]: autoscaling.maxReplicas (%d) is below autoscaling.minReplicas (%d)" $bus.name (int $bus.autoscaling.maxReplicas) (int $bus.autoscaling.minReplicas)) -}}
{{- end -}}
{{- toYaml $bus -}}
{{- end -}}

{{/* Fails on two buses with the same name. */}}
{{- define "gozargah.checkBuses" -}}
{{- $seen := dict -}}
{{- range .Values.buses -}}
{{- if eq .name "metrics" -}}
{{- fail "buses: a bus may not be named \"metrics\": <fullname>-dataplane-metrics is the Service Prometheus scrapes" -}}
{{- end -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "buses: the name %q appears twice; each bus gets its own Deployment and Service" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- end -}}

{{/* A preferred anti-affinity across nodes for pods with these selector labels; takes the labels as YAML. */}}
{{- define "gozargah.spreadAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- . | nindent 12 }}
{{- end -}}

{{/* NetworkPolicy pieces; take .Values.networkPolicy. */}}
{{- define "gozargah.np.metricsIngress" -}}
- ports: [{ port: 9090, protocol: TCP }]
  {{- with .metricsFrom }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "gozargah.np.baseEgress" -}}
# DNS
- ports: [{ port: 53, protocol: UDP }, { port: 53, protocol: TCP }]
# The Kubernetes API server
- ports:
    {{- range .apiServerPorts }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
  {{- with .apiServerCIDRs }}
  to:
    {{- range . }}
    - ipBlock: { cidr: {{ . }} }
    {{- end }}
  {{- end }}
{{- end -}}

{{/*
The annotations block of an object's metadata: commonAnnotations under the object's own (which
win); takes (list $ ownAnnotations), ownAnnotations may be empty. Empty when there are none.
*/}}
{{- define "gozargah.annotations" -}}
{{- $all := merge (deepCopy (index . 1 | default dict)) (index . 0).Values.commonAnnotations -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
The ServiceAccount a component's pods run as; takes (list $ component). With serviceAccount.create
the chart makes it (named serviceAccount.name, default <fullname>-<component>); without, it must
exist and be named, and the chart's RBAC binds it.
*/}}
{{- define "gozargah.serviceAccountName" -}}
{{- $ := index . 0 -}}{{- $component := index . 1 -}}
{{- $sa := (index $.Values $component).serviceAccount -}}
{{- if $sa.create -}}
{{- default (printf "%s-%s" (include "gozargah.fullname" $) $component | trunc 63 | trimSuffix "-") $sa.name -}}
{{- else if $sa.name -}}
{{- $sa.name -}}
{{- else -}}
{{- fail (printf "%s.serviceAccount.create=false needs %s.serviceAccount.name: the ServiceAccount the %s pods run as (and the chart's RBAC binds); the namespace's default one is never used" $component $component $component) -}}
{{- end -}}
{{- end -}}
