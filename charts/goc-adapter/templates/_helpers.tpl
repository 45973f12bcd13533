{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "goc-adapter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-qualified unless the release name already contains the chart name. */}}
{{- define "goc-adapter.fullname" -}}
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

{{/* Labels on every object. */}}
{{- define "goc-adapter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "goc-adapter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels the Service and Deployment select Pods by. */}}
{{- define "goc-adapter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "goc-adapter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the controller runs as. */}}
{{- define "goc-adapter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "goc-adapter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the write token, if any. */}}
{{- define "goc-adapter.tokenSecret" -}}
{{- if .Values.writeToken.existingSecret }}
{{- .Values.writeToken.existingSecret }}
{{- else if .Values.writeToken.value }}
{{- printf "%s-write-token" (include "goc-adapter.fullname" .) }}
{{- end }}
{{- end }}
