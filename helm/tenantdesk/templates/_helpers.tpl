{{/* The chart's name, cut to the 63 characters a label allows. */}}
{{- define "tenantdesk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's resource name prefix: the release name, with the chart's unless it has it. */}}
{{- define "tenantdesk.fullname" -}}
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

{{- define "tenantdesk.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tenantdesk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantdesk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tenantdesk.labels" -}}
helm.sh/chart: {{ include "tenantdesk.chart" . }}
{{ include "tenantdesk.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tenantdesk
{{- end }}

{{/* The image reference: repository:tag, or repository@digest when a digest is given. */}}
{{- define "tenantdesk.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The base domain: the host of config.baseUrl, the parent of every tenant's host. */}}
{{- define "tenantdesk.baseDomain" -}}
{{- (urlParse .Values.config.baseUrl).hostname }}
{{- end }}

{{- define "tenantdesk.tlsSecretName" -}}
{{- .Values.ingress.tls.secretName | default (printf "%s-tls" (include "tenantdesk.fullname" .)) }}
{{- end }}

{{/* Refuses values that would deploy something broken, saying which value to set. */}}
{{- define "tenantdesk.validate" -}}
{{- if not (regexMatch "^https?://[^/?#@]+$" (trimSuffix "/" .Values.config.baseUrl)) }}
{{- fail (printf "config.baseUrl must look like https://help.example.com (no path), not %q" .Values.config.baseUrl) }}
{{- end }}
{{- if not .Values.secrets.database.existingSecret }}
{{- fail "secrets.database.existingSecret is required: the Secret holding the runtime role's PostgreSQL URL (TENANTDESK_DATABASE_URL) under the key secrets.database.key" }}
{{- end }}
{{- if not .Values.secrets.secretKey.existingSecret }}
{{- fail "secrets.secretKey.existingSecret is required: the Secret holding TENANTDESK_SECRET_KEY (base64 of 32 random bytes, openssl rand -base64 32) under the key secrets.secretKey.key" }}
{{- end }}
{{- if and .Values.migration.enabled (not .Values.secrets.migration.existingSecret) }}
{{- fail "secrets.migration.existingSecret is required while migration.enabled: the Secret holding the owner role's PostgreSQL URL (TENANTDESK_MIGRATION_URL) under the key secrets.migration.key" }}
{{- end }}
{{- if and (not .Values.secrets.redis.existingSecret) (or .Values.web.autoscaling.enabled (gt (int .Values.web.replicaCount) 1)) }}
{{- fail "secrets.redis.existingSecret is required when web runs more than one pod (sessions and rate limits are per process without Redis): set it, or web.replicaCount=1 with web.autoscaling.enabled=false" }}
{{- end }}
{{- if and (not .Values.config.attachmentsUrl) (or .Values.web.autoscaling.enabled (gt (int .Values.web.replicaCount) 1)) }}
{{- fail "config.attachmentsUrl is required when web runs more than one pod (each pod's dataDir is its own emptyDir): set s3://bucket/prefix, or web.replicaCount=1 with web.autoscaling.enabled=false" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- end }}

{{/*
The non-secret configuration, one VARIABLE: "value" a line: the ConfigMap's data, and the
migration Job's env (a pre-install hook runs before the ConfigMap exists).
*/}}
{{- define "tenantdesk.configData" -}}
TENANTDESK_BASE_URL: {{ trimSuffix "/" .Values.config.baseUrl | quote }}
TENANTDESK_MAIL_FROM: {{ .Values.config.mailFrom | quote }}
TENANTDESK_MAIL_MAX_ATTEMPTS: {{ .Values.config.mailMaxAttempts | quote }}
TENANTDESK_IMPORT_MAX_BYTES: {{ .Values.config.importMaxBytes | int64 | quote }}
TENANTDESK_IMPORT_MAX_ROWS: {{ .Values.config.importMaxRows | int64 | quote }}
TENANTDESK_REDIS_CHANNEL: {{ .Values.config.redisChannel | quote }}
TENANTDESK_LOG_FORMAT: {{ .Values.config.logFormat | quote }}
RUST_LOG: {{ .Values.config.logFilter | quote }}
TENANTDESK_DATA_DIR: {{ .Values.config.dataDir | quote }}
TENANTDESK_LISTEN: {{ printf "0.0.0.0:%d" (int .Values.web.containerPort) | quote }}
TENANTDESK_DB_POOL_SIZE: {{ .Values.config.dbPoolSize | quote }}
TENANTDESK_TENANT_CACHE_TTL: {{ .Values.config.tenantCacheTtl | quote }}
TENANTDESK_SESSION_IDLE_MINUTES: {{ .Values.config.sessionIdleMinutes | quote }}
TENANTDESK_SESSION_MAX_HOURS: {{ .Values.config.sessionMaxHours | quote }}
{{- if .Values.config.attachmentsUrl }}
TENANTDESK_ATTACHMENTS_URL: {{ .Values.config.attachmentsUrl | quote }}
{{- end }}
{{- if .Values.metrics.enabled }}
TENANTDESK_METRICS_LISTEN: {{ printf "0.0.0.0:%d" (int .Values.metrics.port) | quote }}
{{- end }}
{{- if .Values.otel.endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .Values.otel.endpoint | quote }}
{{- end }}
{{- if .Values.otel.serviceName }}
OTEL_SERVICE_NAME: {{ .Values.otel.serviceName | quote }}
{{- end }}
{{- if .Values.otel.resourceAttributes }}
OTEL_RESOURCE_ATTRIBUTES: {{ .Values.otel.resourceAttributes | quote }}
{{- end }}
{{- if .Values.otel.tracesSampler }}
OTEL_TRACES_SAMPLER: {{ .Values.otel.tracesSampler | quote }}
{{- end }}
{{- if .Values.otel.tracesSamplerArg }}
OTEL_TRACES_SAMPLER_ARG: {{ .Values.otel.tracesSamplerArg | quote }}
{{- end }}
{{- end }}

{{/* Secret references, one env entry each; never a value. */}}
{{- define "tenantdesk.env.database" -}}
- name: TENANTDESK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.database.existingSecret | quote }}
      key: {{ .Values.secrets.database.key | quote }}
{{- end }}

{{- define "tenantdesk.env.migration" -}}
- name: TENANTDESK_MIGRATION_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.migration.existingSecret | quote }}
      key: {{ .Values.secrets.migration.key | quote }}
{{- end }}

{{- define "tenantdesk.env.services" -}}
- name: TENANTDESK_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.secretKey.existingSecret | quote }}
      key: {{ .Values.secrets.secretKey.key | quote }}
{{- if .Values.secrets.redis.existingSecret }}
- name: TENANTDESK_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.redis.existingSecret | quote }}
      key: {{ .Values.secrets.redis.key | quote }}
{{- end }}
{{- if .Values.secrets.smtp.existingSecret }}
- name: TENANTDESK_SMTP_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.smtp.existingSecret | quote }}
      key: {{ .Values.secrets.smtp.key | quote }}
{{- end }}
{{- if .Values.secrets.otlpHeaders.existingSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.otlpHeaders.existingSecret | quote }}
      key: {{ .Values.secrets.otlpHeaders.key | quote }}
{{- end }}
{{- end }}

{{/* The writable directories of a read-only root filesystem. */}}
{{- define "tenantdesk.volumeMounts" -}}
- name: data
  mountPath: {{ .Values.config.dataDir }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "tenantdesk.volumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end }}
