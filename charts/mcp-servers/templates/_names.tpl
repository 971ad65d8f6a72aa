{{/*
Identity of a server's objects: names, labels, metadata, version, where it is reached.
*/}}

{{/*
mcp-servers.names.fullname: the name of every object of the server: `<name>-mcp`, or
`fullnameOverride` rendered as a template (so `{{ .Release.Name }}-todo` works), cut to 63
characters without a trailing `-`. mcp-servers.validate.fullname checks the result.
Usage: {{ include "mcp-servers.names.fullname" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.names.fullname" -}}
{{- $fullname := printf "%s-mcp" .server.name -}}
{{- if .server.fullnameOverride -}}
{{- $fullname = tpl .server.fullnameOverride .root -}}
{{- end -}}
{{- $fullname | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
mcp-servers.names.metricsService: the name of the Service of the server's metrics ports,
`<fullname>-metrics`, the fullname cut so that the whole stays a 63-character DNS-1035 label.
Usage: {{ include "mcp-servers.names.metricsService" $s }}
*/}}
{{- define "mcp-servers.names.metricsService" -}}
{{- printf "%s-metrics" (.fullname | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{/*
mcp-servers.names.serviceHosts: the DNS names of the server's Service, from the shortest
(`<fullname>`) to the fully qualified one (`<fullname>.<namespace>.svc.<clusterDomain>`), as
a JSON list.
Usage: {{ include "mcp-servers.names.serviceHosts" (dict "server" $s "root" $) | fromJsonArray }}
*/}}
{{- define "mcp-servers.names.serviceHosts" -}}
{{- $fullname := .server.fullname -}}
{{- $ns := .root.Release.Namespace -}}
{{- list $fullname (printf "%s.%s" $fullname $ns) (printf "%s.%s.svc" $fullname $ns) (printf "%s.%s.svc.%s" $fullname $ns .root.Values.global.clusterDomain) | toJson -}}
{{- end -}}

{{/*
mcp-servers.url: the server's MCP endpoint inside the cluster,
`http://<fullname>.<namespace>.svc.<clusterDomain>:<port>/mcp`.
Usage: {{ include "mcp-servers.url" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.url" -}}
{{- printf "http://%s.%s.svc.%s:%d/mcp" .server.fullname .root.Release.Namespace .root.Values.global.clusterDomain (int .server.port) -}}
{{- end -}}

{{/*
mcp-servers.version: the server's version (`app.kubernetes.io/version`, `server-config.json`):
`version`, else the image tag (mcp-servers.images.tag).
Usage: {{ include "mcp-servers.version" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.version" -}}
{{- .server.version | default (include "mcp-servers.images.tag" (dict "image" .server.image "root" .root)) | toString -}}
{{- end -}}

{{/*
mcp-servers.labels.selector: the labels that select the server's pods, as JSON: only the stable
name/instance pair, so an upgrade never changes a selector.
Usage: {{ include "mcp-servers.labels.selector" (dict "server" $s "root" $) | fromJson }}
*/}}
{{- define "mcp-servers.labels.selector" -}}
{{- dict "app.kubernetes.io/name" .server.name "app.kubernetes.io/instance" .root.Release.Name | toJson -}}
{{- end -}}

{{/*
mcp-servers.labels.standard: the labels of every object of the server, as JSON: the selector
labels, `helm.sh/chart`, the recommended `app.kubernetes.io/*` labels (version from
mcp-servers.version, so `.server.version` must be set) and `global.commonLabels`, which
cannot replace the chart's own.
Usage: {{ include "mcp-servers.labels.standard" (dict "server" $s "root" $) | fromJson }}
*/}}
{{- define "mcp-servers.labels.standard" -}}
{{- $root := .root -}}
{{- merge (dict
  "helm.sh/chart" (printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/version" (.server.version | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_")
  "app.kubernetes.io/component" "mcp-server"
  "app.kubernetes.io/part-of" $root.Values.global.partOf
  "app.kubernetes.io/managed-by" $root.Release.Service) .server.selectorLabels $root.Values.global.commonLabels | toJson -}}
{{- end -}}

{{/*
mcp-servers.labels.test: the labels of the server's helm test pod, as YAML: the standard labels
with component `mcp-test` and without `app.kubernetes.io/name`, so the server's Service (which
selects name and instance) never routes to the test pod.
Usage: labels: {{- include "mcp-servers.labels.test" (dict "server" $s "root" $) | nindent 4 }}
*/}}
{{- define "mcp-servers.labels.test" -}}
{{- set (omit .server.labels "app.kubernetes.io/name") "app.kubernetes.io/component" "mcp-test" | toYaml -}}
{{- end -}}

{{/*
mcp-servers.metadata: metadata of an object of the server: `name` (default the fullname),
the release namespace, the standard labels (with `app.kubernetes.io/component` the given
`component`, default `mcp-server`) plus extra `labels` (which never replace the chart's own)
and `annotations` over `global.commonAnnotations`, when there are any.
Usage: metadata: {{- include "mcp-servers.metadata" (dict "server" $s "root" $ ["name" NAME] ["component" COMPONENT] ["labels" LABELS] ["annotations" ANNOTATIONS]) | nindent 2 }}
*/}}
{{- define "mcp-servers.metadata" -}}
{{- $labels := .server.labels -}}
{{- with .component -}}
{{- $labels = set (omit $labels "app.kubernetes.io/component") "app.kubernetes.io/component" . -}}
{{- end -}}
name: {{ .name | default .server.fullname }}
namespace: {{ .root.Release.Namespace }}
labels: {{- toYaml (merge (dict) $labels (.labels | default dict)) | nindent 2 }}
{{- with merge (dict) (.annotations | default dict) .root.Values.global.commonAnnotations }}
annotations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
mcp-servers.serviceAccountName: the ServiceAccount the pods run as: with `serviceAccount.create`
the chart's (`serviceAccount.name`, default the fullname), else `serviceAccount.name` or
`default`.
Usage: {{ include "mcp-servers.serviceAccountName" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.serviceAccountName" -}}
{{- $account := .server.serviceAccount -}}
{{- ternary ($account.name | default .server.fullname) ($account.name | default "default") $account.create -}}
{{- end -}}

{{/*
mcp-servers.exposure.hosts: the host names the server is exposed at, as a JSON list: its
Ingress `hosts` and its HTTPRoute `hostnames`, for those that are enabled.
Usage: {{ include "mcp-servers.exposure.hosts" SERVER | fromJsonArray }}
*/}}
{{- define "mcp-servers.exposure.hosts" -}}
{{- $hosts := list -}}
{{- if .ingress.enabled }}{{ $hosts = concat $hosts .ingress.hosts }}{{ end -}}
{{- if .httpRoute.enabled }}{{ $hosts = concat $hosts .httpRoute.hostnames }}{{ end -}}
{{- $hosts | uniq | toJson -}}
{{- end -}}

{{/*
mcp-servers.exposure.controllerNamespaces: the namespaces of the proxies that reach the server
from outside (the ingress controller's, the Gateway's), as a JSON list, for the NetworkPolicy.
Usage: {{ include "mcp-servers.exposure.controllerNamespaces" SERVER | fromJsonArray }}
*/}}
{{- define "mcp-servers.exposure.controllerNamespaces" -}}
{{- $namespaces := list -}}
{{- range $exposure := list .ingress .httpRoute -}}
{{- if and $exposure.enabled $exposure.controllerNamespace -}}
{{- $namespaces = append $namespaces $exposure.controllerNamespace -}}
{{- end -}}
{{- end -}}
{{- $namespaces | uniq | toJson -}}
{{- end -}}

{{/*
mcp-servers.exposure.outsidePeers: the NetworkPolicy peers a NodePort or LoadBalancer Service's
outside clients arrive from, as a JSON list (empty for a ClusterIP Service). With
`externalTrafficPolicy: Local` the pod sees the client's own address, so a LoadBalancer's
`loadBalancerSourceRanges` are the peers; otherwise (`Cluster`, Kubernetes' default) the node
that took the connection forwards it from its own address, which the chart cannot know, so any
address is admitted: the load balancer and kube-proxy have applied the source ranges before.
Any address includes the cluster's pods, which could reach the node port or load balancer
address anyway.
Usage: {{ include "mcp-servers.exposure.outsidePeers" SERVER | fromJsonArray }}
*/}}
{{- define "mcp-servers.exposure.outsidePeers" -}}
{{- $peers := list -}}
{{- $service := .service -}}
{{- if ne $service.type "ClusterIP" -}}
{{- $ranges := list "0.0.0.0/0" "::/0" -}}
{{- if and (eq $service.externalTrafficPolicy "Local") $service.loadBalancerSourceRanges -}}
{{- $ranges = $service.loadBalancerSourceRanges -}}
{{- end -}}
{{- range $cidr := $ranges -}}
{{- $peers = append $peers (dict "ipBlock" (dict "cidr" $cidr)) -}}
{{- end -}}
{{- end -}}
{{- $peers | toJson -}}
{{- end -}}

{{/*
mcp-servers.url.external: the server's MCP endpoint outside the cluster, from its first
exposed host that is not a wildcard: `https://<host>/mcp` through an Ingress with a TLS Secret
(`http://` without), `<httpRoute.scheme>://<hostname>/mcp` through an HTTPRoute, else
`http://<host>:<port>/mcp` from the first of `service.hosts` of a NodePort Service (its node
port) or LoadBalancer Service (the Service's port); empty when the server is not exposed.
Usage: {{ include "mcp-servers.url.external" SERVER }}
*/}}
{{- define "mcp-servers.url.external" -}}
{{- $url := "" -}}
{{- if .ingress.enabled -}}
{{- range $host := .ingress.hosts -}}
{{- if and (not $url) (not (hasPrefix "*" $host)) -}}
{{- $url = printf "%s://%s/mcp" (ternary "https" "http" (ne $.ingress.tlsSecretName "")) $host -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (not $url) .httpRoute.enabled -}}
{{- range $host := .httpRoute.hostnames -}}
{{- if and (not $url) (not (hasPrefix "*" $host)) -}}
{{- $url = printf "%s://%s/mcp" $.httpRoute.scheme $host -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (not $url) .service.hosts -}}
{{- $port := ternary .service.nodePort .port (eq .service.type "NodePort") -}}
{{- $url = printf "http://%s:%d/mcp" (first .service.hosts) (int $port) -}}
{{- end -}}
{{- $url -}}
{{- end -}}

{{/*
mcp-servers.notes.clientConfigs: client configurations for URLS, a map of server name -> MCP
URL, in the shapes of scripts/client_configs.py (which `make up` and `make demo` print with):
Claude Code's .mcp.json, VS Code's .vscode/mcp.json, Cursor's and `claude mcp add` lines. A
server in TOKENS (name -> environment variable) gets an `Authorization: Bearer` header that
reads the token from that variable (VS Code: a prompted input of the same name in lower case),
as `client_configs.py --auth` does with MCP_TOKEN: a placeholder, never the token.
Usage: {{ include "mcp-servers.notes.clientConfigs" (dict "urls" (dict "todo" "http://...") "tokens" (dict "todo" "MCP_TOKEN")) }}
*/}}
{{- define "mcp-servers.notes.clientConfigs" -}}
{{- $tokens := .tokens | default dict -}}
{{- $claude := dict -}}
{{- $vscode := dict -}}
{{- $cursor := dict -}}
{{- $inputs := dict -}}
{{- range $name, $url := .urls -}}
{{- $claudeEntry := dict "type" "http" "url" $url -}}
{{- $vscodeEntry := dict "type" "http" "url" $url -}}
{{- $cursorEntry := dict "url" $url -}}
{{- with get $tokens $name -}}
{{- $input := . | lower | replace "_" "-" -}}
{{- $_ := set $claudeEntry "headers" (dict "Authorization" (printf "Bearer ${%s}" .)) -}}
{{- $_ = set $vscodeEntry "headers" (dict "Authorization" (printf "Bearer ${input:%s}" $input)) -}}
{{- $_ = set $cursorEntry "headers" (dict "Authorization" (printf "Bearer ${env:%s}" .)) -}}
{{- $_ = set $inputs $input (dict "type" "promptString" "id" $input "description" (ternary "Bearer token of the MCP servers" (printf "Bearer token of %s" $name) (eq . "MCP_TOKEN")) "password" true) -}}
{{- end -}}
{{- $_ := set $claude $name $claudeEntry -}}
{{- $_ = set $vscode $name $vscodeEntry -}}
{{- $_ = set $cursor $name $cursorEntry -}}
{{- end -}}
{{- $vscodeConfig := dict "servers" $vscode -}}
{{- if $inputs -}}
{{- $list := list -}}
{{- range $id := keys $inputs | sortAlpha -}}
{{- $list = append $list (get $inputs $id) -}}
{{- end -}}
{{- $_ := set $vscodeConfig "inputs" $list -}}
{{- end }}
.mcp.json (Claude Code):
{{ dict "mcpServers" $claude | toPrettyJson }}

.vscode/mcp.json (VS Code):
{{ $vscodeConfig | toPrettyJson }}

~/.cursor/mcp.json (Cursor):
{{ dict "mcpServers" $cursor | toPrettyJson }}

Claude Code CLI:
{{- range $name, $url := .urls }}
claude mcp add --transport http {{ $name }} {{ $url }}
{{- with get $tokens $name }} --header "Authorization: Bearer ${{ . }}"{{ end }}
{{- end }}
{{- end -}}
