{{/*
What the server reads: the ConfigMap `<fullname>` (server-config.json and the environment the
chart derives), the Secrets it takes environment variables from, and the checksums that roll
the pods when either changes.
*/}}

{{/*
mcp-servers.env.chart: the environment variables the chart sets itself, as JSON: the runtime's
transport, address and ports (MCP and metrics), state model, log level, allowed hosts (the Service's DNS names,
mcp-servers.names.serviceHosts, then `allowedHosts`, then the exposed hosts,
mcp-servers.exposure.hosts, then the published Service's `service.hosts`, then the host of
`auth.oauth.resourceUrl`) and origins, config
file, drain timeout, session and request limits, the entry file of inline `code`, the authorization settings
that are no secret (mcp-servers.auth.env) and the OTEL_* ones of `tracing` that need no pod
(mcp-servers.tracing.env). A server cannot set these in `env` or `secrets`
(mcp-servers.validate.auth, mcp-servers.validate.env, mcp-servers.validate.secrets).
Usage: {{ include "mcp-servers.env.chart" (dict "server" $s "root" $) | fromJson }}
*/}}
{{- define "mcp-servers.env.chart" -}}
{{- $s := .server -}}
{{- $hosts := include "mcp-servers.names.serviceHosts" . | fromJsonArray -}}
{{- /* Clients of an OAuth server reach it at its resource URL, whatever exposes it. */ -}}
{{- $resourceHosts := list -}}
{{- if and (eq $s.auth.mode "oauth") $s.auth.oauth.resourceUrl -}}
{{- $resourceHosts = list (urlParse $s.auth.oauth.resourceUrl).hostname -}}
{{- end -}}
{{- $env := dict
  "MCP_TRANSPORT" "streamable-http"
  "MCP_HOST" "0.0.0.0"
  "MCP_PORT" (toString (int $s.port))
  "MCP_METRICS_PORT" (toString (int $s.metrics.port))
  "MCP_STATELESS" (toString $s.stateless)
  "LOG_LEVEL" $s.logLevel
  "MCP_ALLOWED_HOSTS" (concat $hosts $s.allowedHosts (include "mcp-servers.exposure.hosts" $s | fromJsonArray) $s.service.hosts $resourceHosts | uniq | join ",")
  "MCP_SERVER_CONFIG" "/etc/mcp/server-config.json"
  "MCP_DRAIN_TIMEOUT_SECONDS" (toString (int $s.drain.timeoutSeconds))
  "MCP_MAX_SESSIONS" (toString (int64 $s.sessions.max))
  "MCP_SESSION_IDLE_TIMEOUT_SECONDS" (toString (int64 $s.sessions.idleTimeoutSeconds))
  "MCP_MAX_REQUEST_BYTES" (toString (int64 $s.maxRequestBytes))
  "MCP_WORKERS" (toString (int $s.workers)) -}}
{{- if $s.allowedOrigins -}}
{{- $_ := set $env "MCP_ALLOWED_ORIGINS" (join "," $s.allowedOrigins) -}}
{{- end -}}
{{- if $s.code -}}
{{- $_ := set $env "MCP_CODE_FILE" (printf "/opt/mcp/code/%s" $s.codeEntrypoint) -}}
{{- end -}}
{{- $env = merge $env (include "mcp-servers.auth.env" $s | fromJson) -}}
{{- $env = merge $env (include "mcp-servers.tracing.env" $s | fromJson) -}}
{{- toJson $env -}}
{{- end -}}

{{/*
mcp-servers.env.config: the environment variables the ConfigMap carries, as JSON: the literal
values of `env` as text (a whole YAML number as an integer: 1000000, not 1e+06) and the chart's
own (mcp-servers.env.chart, passed in as `chartEnv`). `valueFrom` entries go onto the container
instead (mcp-servers.env.valueFrom).
Usage: {{ include "mcp-servers.env.config" (dict "server" $s "chartEnv" CHART_ENV) | fromJson }}
*/}}
{{- define "mcp-servers.env.config" -}}
{{- $env := .server.env -}}
{{- $plain := dict -}}
{{- range $name := keys $env | sortAlpha -}}
{{- $value := index $env $name -}}
{{- if kindIs "map" $value -}}
{{- /* A valueFrom goes onto the container: mcp-servers.env.valueFrom. */ -}}
{{- else if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) -}}
{{- /* Helm reads YAML numbers as floats; print 1000000, not 1e+06. */ -}}
{{- $_ := set $plain $name (toString (int64 $value)) -}}
{{- else -}}
{{- $_ := set $plain $name (toString $value) -}}
{{- end -}}
{{- end -}}
{{- merge $plain .chartEnv | toJson -}}
{{- end -}}

{{/*
mcp-servers.env.valueFrom: the `env` entries given as `{valueFrom: ...}`, as a YAML list of
container env entries sorted by name; empty when there are none.
Usage: {{- with include "mcp-servers.env.valueFrom" (dict "server" $s "root" $) }}{{ . | nindent 4 }}{{ end }}
*/}}
{{- define "mcp-servers.env.valueFrom" -}}
{{- $env := .server.env -}}
{{- $entries := list -}}
{{- range $name := keys $env | sortAlpha -}}
{{- $value := index $env $name -}}
{{- if kindIs "map" $value -}}
{{- $entries = append $entries (dict "name" $name "valueFrom" $value.valueFrom) -}}
{{- end -}}
{{- end -}}
{{- with $entries -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.env.secretNames: the Secrets whose keys become environment variables, as a JSON
list: `<fullname>`, which the ExternalSecret fills from `secrets`, `existingSecret`, and the
Secret the InfisicalSecret writes (mcp-servers.infisical.secretName), which is then the only one
(mcp-servers.validate.infisical).
Usage: {{ include "mcp-servers.env.secretNames" (dict "server" $s "root" $) | fromJsonArray }}
*/}}
{{- define "mcp-servers.env.secretNames" -}}
{{- $names := list -}}
{{- if .server.secrets -}}
{{- $names = append $names .server.fullname -}}
{{- end -}}
{{- if .server.existingSecret -}}
{{- $names = append $names .server.existingSecret -}}
{{- end -}}
{{- if .server.infisicalSecret.enabled -}}
{{- $names = append $names (include "mcp-servers.infisical.secretName" .server) -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
mcp-servers.env.authTokenRef: the `secretKeyRef` the helm test pod reads MCP_AUTH_TOKEN from, as
JSON: in `auth.mode` token the server's own (mcp-servers.auth.tokenRef); in mode oauth none (no
shared token opens an OAuth server); in mode none, for a token set by hand, key MCP_AUTH_TOKEN
(optional) of `<fullname>` when `secrets` lists it, else of `existingSecret`, else of the
InfisicalSecret's Secret (whose keys the chart cannot know, hence optional); empty when there is
none.
Usage: {{- with include "mcp-servers.env.authTokenRef" (dict "server" $s "root" $) }}{{ fromJson . }}{{ end }}
*/}}
{{- define "mcp-servers.env.authTokenRef" -}}
{{- if eq .server.auth.mode "token" -}}
{{- include "mcp-servers.auth.tokenRef" .server -}}
{{- else if ne .server.auth.mode "oauth" -}}
{{- $listed := false -}}
{{- range .server.secrets -}}
{{- if eq .name "MCP_AUTH_TOKEN" -}}
{{- $listed = true -}}
{{- end -}}
{{- end -}}
{{- $source := .server.existingSecret -}}
{{- if .server.infisicalSecret.enabled -}}
{{- $source = include "mcp-servers.infisical.secretName" .server -}}
{{- end -}}
{{- with ternary .server.fullname $source $listed -}}
{{- dict "name" . "key" "MCP_AUTH_TOKEN" "optional" true | toJson -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.requestState.secretName: the Secret MCP_REQUEST_STATE_KEYS comes from:
`requestState.existingSecret`, else `<fullname>-request-state`, which the chart keeps
(secret.yaml).
Usage: {{ include "mcp-servers.requestState.secretName" SERVER }}
*/}}
{{- define "mcp-servers.requestState.secretName" -}}
{{- .requestState.existingSecret | default (printf "%s-request-state" .fullname) -}}
{{- end -}}

{{/*
mcp-servers.requestState.keys: the base64 value of the Secret the chart keeps for
`requestState`: the one already in the cluster, so an upgrade keeps every pod's key, else a new
random key of 64 characters. Not optional for the pods: a pod that sealed under a key of its own
would refuse what the others sealed.
Usage: {{ include "mcp-servers.requestState.keys" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.requestState.keys" -}}
{{- $name := include "mcp-servers.requestState.secretName" .server -}}
{{- $found := lookup "v1" "Secret" .root.Release.Namespace $name -}}
{{- $kept := dig "data" .server.requestState.key "" ($found | default dict) -}}
{{- $kept | default (randAlphaNum 64 | b64enc) -}}
{{- end -}}

{{/*
mcp-servers.config.serverConfig: the text of `server-config.json`: `name`, `version`, `port`,
`description` and `tools` (`config.tools`, empty for all), merged over the rest of `config`.
Usage: {{ include "mcp-servers.config.serverConfig" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.config.serverConfig" -}}
{{- $s := .server -}}
{{- $identity := dict "name" $s.name "version" $s.version "port" (int $s.port) "description" $s.description "tools" ($s.config.tools | default list) -}}
{{- merge $identity (deepCopy $s.config) | toPrettyJson -}}
{{- end -}}

{{/*
mcp-servers.config.data: the data of the ConfigMap `<fullname>`: `server-config.json`
(mcp-servers.config.serverConfig) and the environment variables (`.server.configEnv`, see
mcp-servers.env.config), as YAML. The pods' `checksum/config` hashes the same text.
Usage: data: {{- include "mcp-servers.config.data" (dict "server" $s "root" $) | nindent 2 }}
*/}}
{{- define "mcp-servers.config.data" -}}
{{- toYaml (merge (dict "server-config.json" (include "mcp-servers.config.serverConfig" .)) .server.configEnv) -}}
{{- end -}}

{{/*
mcp-servers.config.checksum: hash of the ConfigMap data and the inline `code`, so a change of
either rolls the pods.
Usage: {{ include "mcp-servers.config.checksum" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.config.checksum" -}}
{{- include "mcp-servers.config.data" . | cat (toJson .server.code) | sha256sum -}}
{{- end -}}

{{/*
mcp-servers.secrets.checksum: hash of everything that decides the server's secret env
(`secrets`, `existingSecret`, `externalSecret`, `infisicalSecret`), so a change rolls the pods. A value changed
only in the secret store reaches them on their next restart.
Usage: {{ include "mcp-servers.secrets.checksum" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.secrets.checksum" -}}
{{- $s := .server -}}
{{- $inputs := dict "secrets" $s.secrets "existingSecret" $s.existingSecret "externalSecret" $s.externalSecret -}}
{{- if $s.infisicalSecret.enabled -}}
{{- /* Only when enabled: the chart's upgrade then leaves other servers' pods where they are. */ -}}
{{- $_ := set $inputs "infisicalSecret" $s.infisicalSecret -}}
{{- end -}}
{{- $inputs | toJson | sha256sum -}}
{{- end -}}
