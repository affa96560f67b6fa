{{- define "kontext.name" -}}kontext{{- end -}}

{{- define "kontext.fullname" -}}
{{- if contains "kontext" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-kontext" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "kontext.labels" -}}
app.kubernetes.io/name: kontext
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kontext.selector" -}}
app.kubernetes.io/name: kontext
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kontext.fluentBit.selector" -}}
app.kubernetes.io/name: kontext-fluent-bit
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kontext.fluentBit.labels" -}}
{{ include "kontext.fluentBit.selector" . }}
app.kubernetes.io/version: {{ .Values.fluentBit.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kontext.secretName" -}}
{{- if .Values.secrets.create -}}{{ include "kontext.fullname" . }}{{- else -}}{{ required "secrets.existingSecret is required when secrets.create is false" .Values.secrets.existingSecret }}{{- end -}}
{{- end -}}

{{- define "kontext.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "kontext.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "kontext.fluentBit.namespace" -}}{{ default .Release.Namespace .Values.fluentBit.namespace }}{{- end -}}
