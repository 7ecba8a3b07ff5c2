{{/* Names and labels, as `helm create` makes them. */}}
{{- define "commitlog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "commitlog.fullname" -}}
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

{{- define "commitlog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "commitlog.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "commitlog.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "commitlog.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "commitlog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "commitlog.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "commitlog.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "commitlog.configPath" -}}/etc/commitlog/config/commitlog.yaml{{- end }}

{{/*
The gateway's config file: values.config (already merged over the chart's
defaults by Helm), plus what the chart owns: listen follows ports.grpc, a
kafkaTls Secret adds the librdkafka ssl.* properties under the user's own, and
a kafkaSasl Secret sets kafka.sasl to its files (paths only: no secret in the
ConfigMap) and security.protocol to SASL_SSL/SASL_PLAINTEXT unless set.
*/}}
{{- define "commitlog.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- if hasKey $cfg "listen" }}
{{- fail "config.listen: set ports.grpc instead; the chart sets listen to 0.0.0.0:<ports.grpc> so that probes and Services follow it" }}
{{- end }}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.ports.grpc)) }}
{{- with .Values.kafkaTls }}
{{- if .existingSecret }}
{{- $kafka := deepCopy (get $cfg "kafka" | default dict) }}
{{- $protocol := ternary "SASL_SSL" "SSL" (not (empty $.Values.kafkaSasl.existingSecret)) }}
{{- $tlsProps := dict "security.protocol" $protocol "ssl.ca.location" (printf "%s/%s" .mountPath .caKey) }}
{{- if .clientCertificate }}
{{- $_ := set $tlsProps "ssl.certificate.location" (printf "%s/%s" .mountPath .certKey) }}
{{- $_ := set $tlsProps "ssl.key.location" (printf "%s/%s" .mountPath .keyKey) }}
{{- end }}
{{- $_ := set $kafka "properties" (merge (deepCopy (get $kafka "properties" | default dict)) $tlsProps) }}
{{- $_ := set $cfg "kafka" $kafka }}
{{- end }}
{{- end }}
{{- with .Values.kafkaSasl }}
{{- if .existingSecret }}
{{- $kafka := deepCopy (get $cfg "kafka" | default dict) }}
{{- if hasKey $kafka "sasl" }}
{{- fail "config.kafka.sasl: set kafkaSasl instead, or leave kafkaSasl.existingSecret empty; the chart points kafka.sasl at the mounted Secret" }}
{{- end }}
{{- $sasl := dict "mechanism" .mechanism "usernameFile" (printf "%s/%s" .mountPath .usernameKey) "passwordFile" (printf "%s/%s" .mountPath .passwordKey) }}
{{- $_ := set $kafka "sasl" $sasl }}
{{- $props := deepCopy (get $kafka "properties" | default dict) }}
{{- if not (hasKey $props "security.protocol") }}
{{- $_ := set $props "security.protocol" "SASL_PLAINTEXT" }}
{{- end }}
{{- $_ := set $kafka "properties" $props }}
{{- $_ := set $cfg "kafka" $kafka }}
{{- end }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* drainTimeoutMs as the gateway reads it (its default is 30000), in whole seconds rounded up. */}}
{{- define "commitlog.drainSeconds" -}}
{{- $cfg := .Values.config | default dict }}
{{- $ms := 30000 }}
{{- if hasKey $cfg "drainTimeoutMs" }}{{ $ms = int64 $cfg.drainTimeoutMs }}{{ end }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the kubelet sends SIGKILL after it, so it must
cover the preStop sleep, the drain, and the gateway's close (connections get
1 s after the drain deadline) with room to spare.
*/}}
{{- define "commitlog.terminationGracePeriodSeconds" -}}
{{- $drain := int64 (include "commitlog.drainSeconds" .) }}
{{- $preStop := int64 .Values.preStopSleepSeconds }}
{{- $least := add $drain $preStop 5 }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $drain $preStop 15 }}
{{- else if lt (int64 .Values.terminationGracePeriodSeconds) $least }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least config.drainTimeoutMs (%ds) + preStopSleepSeconds (%ds) + 5: the kubelet would kill the gateway before its drain ends; raise it or leave it null to derive it" (int64 .Values.terminationGracePeriodSeconds) $drain $preStop) }}
{{- else }}
{{- int64 .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}
