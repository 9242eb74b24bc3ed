{{/* Redis: the fleet's counts. Either redis.url (an existing Redis) or redis.enabled (the bundled one). */}}

{{- define "gozargah.redis.fullname" -}}
{{- printf "%s-redis" (include "gozargah.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fails on values that cannot work together; every other redis helper calls it. */}}
{{- define "gozargah.redis.check" -}}
{{- $r := .Values.redis -}}
{{- if and $r.url $r.enabled -}}
{{- fail "redis: set either redis.url (an existing Redis) or redis.enabled (the bundled one), not both" -}}
{{- end -}}
{{- if regexMatch "^[a-z-]+://[^/@]*:[^/@]*@" $r.url -}}
{{- fail "redis.url carries a password: it would be readable in the Deployments; put it in a Secret and name it in redis.existingSecret (and redis.passwordKey)" -}}
{{- end -}}
{{- if and $r.enabled (not $r.auth) $r.existingSecret -}}
{{- fail "redis.existingSecret is set but redis.auth is false: the bundled Redis would take no password; set redis.auth=true or drop redis.existingSecret" -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled $r.url (not (hasPrefix "unix:" $r.url)) (not $r.networkPolicy.egress) -}}
{{- fail "redis.url with networkPolicy.enabled needs redis.networkPolicy.egress: the operator's NetworkPolicy lets it reach only DNS and the API server, so list where the Redis (and its Sentinels) listen" -}}
{{- end -}}
{{- end -}}

{{/* The URL both components get; empty without Redis. */}}
{{- define "gozargah.redis.url" -}}
{{- include "gozargah.redis.check" . -}}
{{- if .Values.redis.url -}}
{{- .Values.redis.url -}}
{{- else if .Values.redis.enabled -}}
{{- printf "redis://%s.%s.svc:6379/0" (include "gozargah.redis.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the password, as YAML {name, key}; empty when there is none. */}}
{{- define "gozargah.redis.passwordRef" -}}
{{- $r := .Values.redis -}}
{{- if $r.existingSecret -}}
name: {{ $r.existingSecret }}
key: {{ $r.passwordKey }}
{{- else if and $r.enabled $r.auth -}}
name: {{ include "gozargah.redis.fullname" . }}
key: password
{{- end -}}
{{- end -}}

{{/* The env entries of the operator and the dataplanes (none without Redis). */}}
{{- define "gozargah.redis.env" -}}
{{- with include "gozargah.redis.url" . -}}
- name: GOZARGAH_REDIS_URL
  value: {{ . | quote }}
{{- with include "gozargah.redis.passwordRef" $ }}
- name: GOZARGAH_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- . | nindent 6 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rules toward Redis, for the operator and the dataplanes. */}}
{{- define "gozargah.redis.egress" -}}
{{- if .Values.redis.enabled -}}
# The bundled Redis
- to:
    - podSelector:
        matchLabels:
          {{- include "gozargah.selectorLabels" (list . "redis") | nindent 10 }}
  ports: [{ port: 6379, protocol: TCP }]
{{- else if and .Values.redis.url .Values.redis.networkPolicy.egress -}}
# The external Redis (redis.networkPolicy.egress)
{{ toYaml .Values.redis.networkPolicy.egress }}
{{- end }}
{{- end -}}
