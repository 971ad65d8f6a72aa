{{/*
Traces (`tracing`): the standard OTEL_* variables that make the runtime (and any image with an
OpenTelemetry SDK) export spans over OTLP, the pod's identity as resource attributes through the
downward API, and the NetworkPolicy's way out to the collector. mcp-servers.validate.tracing
checks the values first. While `tracing.enabled` the chart owns every OTEL_* variable.
*/}}

{{/*
mcp-servers.tracing.endpointParts: `tracing.endpoint` split as JSON {scheme, host, port}; `{}`
when it is not `http(s)://HOST:PORT` with an optional trailing `/` (OTLP over gRPC takes no path).
Usage: {{ include "mcp-servers.tracing.endpointParts" SERVER | fromJson }}
*/}}
{{- define "mcp-servers.tracing.endpointParts" -}}
{{- $endpoint := toString .tracing.endpoint -}}
{{- $parts := regexFindAll "^(https?)://(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9]([-.A-Za-z0-9]*[A-Za-z0-9])?):([0-9]{1,5})/?$" $endpoint 1 -}}
{{- if $parts -}}
{{- $scheme := regexReplaceAll "://.*$" $endpoint "" -}}
{{- $port := regexReplaceAll "^.*:([0-9]{1,5})/?$" $endpoint "${1}" -}}
{{- $host := trimSuffix (printf ":%s" $port) (trimSuffix "/" (trimPrefix (printf "%s://" $scheme) $endpoint)) -}}
{{- dict "scheme" $scheme "host" $host "port" (int $port) | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.tracing.env: while `tracing.enabled`, the OTEL_* variables that are no secret and
need nothing of the pod, as JSON, for the ConfigMap (mcp-servers.env.chart): the OTLP endpoint
and protocol, the OTLP exporter for traces and none for metrics and logs (the metrics are
Prometheus', the logs go to stdout), the parent-based ratio sampler, the service name (the
server's name unless `tracing.serviceName`); empty when tracing is off.
Usage: {{ include "mcp-servers.tracing.env" SERVER | fromJson }}
*/}}
{{- define "mcp-servers.tracing.env" -}}
{{- $tracing := .tracing -}}
{{- $env := dict -}}
{{- if $tracing.enabled -}}
{{- $env = dict
  "OTEL_EXPORTER_OTLP_ENDPOINT" (toString $tracing.endpoint)
  "OTEL_EXPORTER_OTLP_PROTOCOL" (toString $tracing.protocol)
  "OTEL_TRACES_EXPORTER" "otlp"
  "OTEL_METRICS_EXPORTER" "none"
  "OTEL_LOGS_EXPORTER" "none"
  "OTEL_TRACES_SAMPLER" "parentbased_traceidratio"
  "OTEL_TRACES_SAMPLER_ARG" (toString (float64 $tracing.samplingRatio))
  "OTEL_SERVICE_NAME" ($tracing.serviceName | default .name | toString) -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{/*
mcp-servers.tracing.podAttributes: the resource attributes the chart derives, as JSON: attribute
-> the container variable it comes from (`$(NAME)`, set by mcp-servers.tracing.containerEnv
from the downward API) or its literal value: the pod, its UID, namespace and node, the
Deployment, the container, and service.version (the server's version: `version`, else its
image tag).
Usage: {{ include "mcp-servers.tracing.podAttributes" SERVER | fromJson }}
*/}}
{{- define "mcp-servers.tracing.podAttributes" -}}
{{- dict
  "k8s.pod.name" "$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)"
  "k8s.pod.uid" "$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)"
  "k8s.namespace.name" "$(OTEL_RESOURCE_ATTRIBUTES_NAMESPACE)"
  "k8s.node.name" "$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)"
  "k8s.deployment.name" .fullname
  "k8s.container.name" "server"
  "service.version" (toString .version) | toJson -}}
{{- end -}}

{{/*
mcp-servers.tracing.containerEnv: while `tracing.enabled`, the server container's OTEL_* entries
that need the pod, as a YAML list (empty when tracing is off): the downward API's pod name, UID,
namespace and node (named as the OpenTelemetry Operator names them), then
OTEL_RESOURCE_ATTRIBUTES, which refers to them with `$(NAME)` (Kubernetes expands a variable
defined earlier in `env`), with `tracing.resourceAttributes` after the chart's own; and
OTEL_EXPORTER_OTLP_HEADERS from `tracing.headers.existingSecret`, when set, never in the
ConfigMap.
Usage: {{- with include "mcp-servers.tracing.containerEnv" SERVER }}{{ . | nindent 4 }}{{ end }}
*/}}
{{- define "mcp-servers.tracing.containerEnv" -}}
{{- $tracing := .tracing -}}
{{- if $tracing.enabled -}}
{{- $entries := list -}}
{{- range $name, $path := dict "POD_NAME" "metadata.name" "POD_UID" "metadata.uid" "NAMESPACE" "metadata.namespace" "NODE_NAME" "spec.nodeName" -}}
{{- $entries = append $entries (dict "name" (printf "OTEL_RESOURCE_ATTRIBUTES_%s" $name) "valueFrom" (dict "fieldRef" (dict "fieldPath" $path))) -}}
{{- end -}}
{{- $attributes := include "mcp-servers.tracing.podAttributes" . | fromJson -}}
{{- $pairs := list -}}
{{- range $key := keys $attributes | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%s" $key (get $attributes $key)) -}}
{{- end -}}
{{- $own := $tracing.resourceAttributes | default dict -}}
{{- range $key := keys $own | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%s" $key (get $own $key | toString)) -}}
{{- end -}}
{{- $entries = append $entries (dict "name" "OTEL_RESOURCE_ATTRIBUTES" "value" (join "," $pairs)) -}}
{{- with $tracing.headers.existingSecret -}}
{{- $entries = append $entries (dict "name" "OTEL_EXPORTER_OTLP_HEADERS" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $tracing.headers.key))) -}}
{{- end -}}
{{- toYaml $entries -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.tracing.egress: while `tracing.enabled`, the NetworkPolicy egress rule to the
collector as a JSON list of one rule: the endpoint's port, to `tracing.egressTo` (any address
when empty: a NetworkPolicy cannot name a host); an empty list when tracing is off.
Usage: {{- with include "mcp-servers.tracing.egress" SERVER | fromJsonArray }}
*/}}
{{- define "mcp-servers.tracing.egress" -}}
{{- $rules := list -}}
{{- if .tracing.enabled -}}
{{- $parts := include "mcp-servers.tracing.endpointParts" . | fromJson -}}
{{- $rule := dict "ports" (list (dict "port" (int $parts.port) "protocol" "TCP")) -}}
{{- with .tracing.egressTo -}}
{{- $_ := set $rule "to" . -}}
{{- end -}}
{{- $rules = append $rules $rule -}}
{{- end -}}
{{- toJson $rules -}}
{{- end -}}

{{/*
mcp-servers.validate.tracing: while `tracing.enabled`, `tracing` says enough to work: an endpoint
`http(s)://HOST:PORT` (http: plaintext, https: TLS; the port named, since a gRPC target without
one means 443 whatever the scheme, and the NetworkPolicy needs it; no path, which gRPC ignores
and which usually means an OTLP/HTTP URL), the protocol the server images export with (grpc), a
sampling ratio from 0 to 1, resource attributes that OTEL_RESOURCE_ATTRIBUTES can carry and that
do not replace the chart's (mcp-servers.tracing.podAttributes; service.name is
`tracing.serviceName`), and no OTEL_* variable set by hand in `env` or `secrets` beside it.
Usage: {{- $_ := include "mcp-servers.validate.tracing" SERVER -}}
*/}}
{{- define "mcp-servers.validate.tracing" -}}
{{- $s := . -}}
{{- $tracing := $s.tracing -}}
{{- $at := printf "%s.tracing" $s.key -}}
{{- if $tracing.enabled -}}
{{- $endpoint := toString ($tracing.endpoint | default "") -}}
{{- if not $endpoint -}}
{{- fail (printf "%s.endpoint: required when %s.enabled (the collector's OTLP gRPC receiver, e.g. http://otel-collector.monitoring.svc.cluster.local:4317)" $at $at) -}}
{{- end -}}
{{- $parts := include "mcp-servers.tracing.endpointParts" $s | fromJson -}}
{{- if not $parts.scheme -}}
{{- fail (printf "%s.endpoint: %q is not http(s)://HOST:PORT (http for plaintext, https for TLS, the port named, no path: OTLP over gRPC takes none), e.g. http://otel-collector.monitoring.svc.cluster.local:4317" $at $endpoint) -}}
{{- end -}}
{{- if or (lt (int $parts.port) 1) (gt (int $parts.port) 65535) -}}
{{- fail (printf "%s.endpoint: port %d of %q is not a TCP port (1-65535)" $at (int $parts.port) $endpoint) -}}
{{- end -}}
{{- $protocol := toString $tracing.protocol -}}
{{- if eq $protocol "http/protobuf" -}}
{{- fail (printf "%s.protocol: http/protobuf is not supported: the server images export OTLP over gRPC only (the tracing extra leaves out the HTTP exporter, see pyproject.toml); set %s.protocol: grpc and point %s.endpoint at the collector's gRPC port (usually 4317)" $at $at $at) -}}
{{- end -}}
{{- if ne $protocol "grpc" -}}
{{- fail (printf "%s.protocol: %q is not an OTLP protocol the servers export with; use grpc" $at $protocol) -}}
{{- end -}}
{{- $ratio := $tracing.samplingRatio -}}
{{- if not (or (kindIs "float64" $ratio) (kindIs "int" $ratio) (kindIs "int64" $ratio)) -}}
{{- fail (printf "%s.samplingRatio: %q is not a number; use a share of new traces from 0 to 1, e.g. 0.1" $at (toString $ratio)) -}}
{{- end -}}
{{- if or (lt (float64 $ratio) 0.0) (gt (float64 $ratio) 1.0) -}}
{{- fail (printf "%s.samplingRatio: %v is not from 0 to 1 (the share of new traces sampled, e.g. 0.1)" $at $ratio) -}}
{{- end -}}
{{- $own := include "mcp-servers.tracing.podAttributes" $s | fromJson -}}
{{- range $key, $value := $tracing.resourceAttributes | default dict -}}
{{- if not (regexMatch "^[A-Za-z0-9][-._A-Za-z0-9]*$" $key) -}}
{{- fail (printf "%s.resourceAttributes.%s: not an attribute name (letters, digits, '.', '_' and '-')" $at $key) -}}
{{- end -}}
{{- if hasKey $own $key -}}
{{- fail (printf "%s.resourceAttributes.%s: set by the chart from the pod (%s); remove it" $at $key (keys $own | sortAlpha | join ", ")) -}}
{{- end -}}
{{- if eq $key "service.name" -}}
{{- fail (printf "%s.resourceAttributes.service.name: OTEL_SERVICE_NAME would win over it; set %s.serviceName instead" $at $at) -}}
{{- end -}}
{{- if regexMatch "[,=%]|\\$\\(" (toString $value) -}}
{{- fail (printf "%s.resourceAttributes.%s: %q contains ',', '=', '%%' or '$(', which OTEL_RESOURCE_ATTRIBUTES or Kubernetes would read as syntax; use a plain value" $at $key (toString $value)) -}}
{{- end -}}
{{- end -}}
{{- $env := $s.env | default dict -}}
{{- range $name := keys $env | sortAlpha -}}
{{- if hasPrefix "OTEL_" $name -}}
{{- fail (printf "%s.env.%s: conflicts with %s.enabled, from which the chart sets every OTEL_* variable; remove %s.env.%s or set it through %s (endpoint, protocol, samplingRatio, serviceName, resourceAttributes, headers)" $s.key $name $at $s.key $name $at) -}}
{{- end -}}
{{- end -}}
{{- range $i, $secret := $s.secrets -}}
{{- if hasPrefix "OTEL_" (toString $secret.name) -}}
{{- fail (printf "%s.secrets[%d].name: %s conflicts with %s.enabled, from which the chart sets every OTEL_* variable; remove it (OTLP headers come from %s.headers.existingSecret)" $s.key $i $secret.name $at $at) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
