{{/*
Inter-MCP calls (`peers`): a server that calls other servers of the release over MCP lists
them, and gets their URLs as environment variables and a NetworkPolicy that lets it out to
exactly them. A peer is only known once every server is computed (its fullname, port and
selector labels), so mcp-servers.load resolves peers in a pass of its own, after the fleet and
the gateway.
*/}}

{{/*
mcp-servers.peers.envName: the environment variable that carries the URL of peer NAME,
`MCP_PEER_<NAME>_URL` (upper case, `-` as `_`; a DNS-1035 server name makes it a valid
variable name, unique per peer).
Usage: {{ include "mcp-servers.peers.envName" NAME }}
*/}}
{{- define "mcp-servers.peers.envName" -}}
{{- printf "MCP_PEER_%s_URL" (. | upper | replace "-" "_") -}}
{{- end -}}

{{/*
mcp-servers.peers.env: the peer URLs of SERVER as JSON, `MCP_PEER_<NAME>_URL` -> the peer's
in-cluster MCP URL (its `.url`, mcp-servers.url), for the ConfigMap next to the chart's other
environment variables. SERVERS is the computed fleet (`.mcpServers`, the gateway included);
mcp-servers.validate.peers has checked that every peer is in it.
Usage: {{ include "mcp-servers.peers.env" (dict "server" SERVER "servers" SERVERS) | fromJson }}
*/}}
{{- define "mcp-servers.peers.env" -}}
{{- $env := dict -}}
{{- range $peer := .server.peers | default list -}}
{{- $_ := set $env (include "mcp-servers.peers.envName" $peer) (get $.servers $peer).url -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{/*
mcp-servers.peers.egress: the NetworkPolicy egress rules of SERVER's calls to its peers, as a
JSON list: one rule per peer, to the peer's pods (its selector labels) on the peer's port.
Usage: {{ include "mcp-servers.peers.egress" (dict "server" SERVER "servers" SERVERS) | fromJsonArray }}
*/}}
{{- define "mcp-servers.peers.egress" -}}
{{- $rules := list -}}
{{- range $name := .server.peers | default list -}}
{{- $peer := get $.servers $name -}}
{{- $to := list (dict "podSelector" (dict "matchLabels" $peer.selectorLabels)) -}}
{{- $rules = append $rules (dict "to" $to "ports" (list (dict "port" (int $peer.port) "protocol" "TCP"))) -}}
{{- end -}}
{{- toJson $rules -}}
{{- end -}}

{{/*
mcp-servers.peers.callers: the servers of SERVERS that list SERVER among their `peers`, as a
JSON list of their pod selectors (NetworkPolicyPeer objects), sorted by name, for SERVER's
ingress rule.
Usage: {{ include "mcp-servers.peers.callers" (dict "server" SERVER "servers" SERVERS) | fromJsonArray }}
*/}}
{{- define "mcp-servers.peers.callers" -}}
{{- $callers := list -}}
{{- range $name := keys .servers | sortAlpha -}}
{{- $caller := get $.servers $name -}}
{{- if has $.server.name ($caller.peers | default list) -}}
{{- $callers = append $callers (dict "podSelector" (dict "matchLabels" $caller.selectorLabels)) -}}
{{- end -}}
{{- end -}}
{{- toJson $callers -}}
{{- end -}}

{{/*
mcp-servers.validate.peers: each of SERVER's `peers` is another enabled server of the release
(SERVERS, the gateway included when enabled), not the server itself, and no `env` or `secrets`
entry sets a variable the chart sets from them.
Usage: {{- $_ := include "mcp-servers.validate.peers" (dict "server" SERVER "servers" SERVERS "root" $) -}}
*/}}
{{- define "mcp-servers.validate.peers" -}}
{{- $s := .server -}}
{{- $key := $s.key -}}
{{- $servers := .servers -}}
{{- $others := without (keys $servers | sortAlpha) $s.name -}}
{{- range $i, $peer := $s.peers | default list -}}
{{- $at := printf "%s.peers[%d]" $key $i -}}
{{- if eq $peer $s.name -}}
{{- fail (printf "%s: %s is this server itself; it calls its own tools in process, not over the network" $at $peer) -}}
{{- end -}}
{{- if not (hasKey $servers $peer) -}}
{{- if hasKey $.root.Values.servers $peer -}}
{{- fail (printf "%s: servers.%s is disabled (enabled: false), so there is nothing to call; enable it or remove it from %s.peers" $at $peer $key) -}}
{{- end -}}
{{- if eq $peer "gateway" -}}
{{- fail (printf "%s: the gateway is not enabled (gateway.enabled: false); enable it or remove it from %s.peers" $at $key) -}}
{{- end -}}
{{- fail (printf "%s: %s is not a server of this release (enabled: %s)" $at $peer (ternary "none" ($others | join ", ") (empty $others))) -}}
{{- end -}}
{{- $envName := include "mcp-servers.peers.envName" $peer -}}
{{- if hasKey ($s.env | default dict) $envName -}}
{{- fail (printf "%s.env.%s: set by the chart from %s; remove it" $key $envName $at) -}}
{{- end -}}
{{- range $j, $secret := $s.secrets | default list -}}
{{- if eq (toString $secret.name) $envName -}}
{{- fail (printf "%s.secrets[%d].name: %s is set by the chart from %s; it cannot come from a secret" $key $j $envName $at) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
