{{/*
mcp-servers.exposure.paths: the path prefixes an Ingress or HTTPRoute routes to a server, as a
JSON list: its MCP endpoint, in auth mode `oauth` its protected-resource metadata (RFC 9728,
which clients read before their first call), then EXTRA (`ingress.extraPaths` or
`httpRoute.extraPaths`). The probes and whatever else the server answers stay in the cluster:
`/ready`'s detail names a gateway's servers and their circuits.
Usage: {{ include "mcp-servers.exposure.paths" (dict "server" SERVER "extra" LIST) | fromJsonArray }}
*/}}
{{- define "mcp-servers.exposure.paths" -}}
{{- $paths := list "/mcp" -}}
{{- if eq .server.auth.mode "oauth" -}}
{{- $paths = append $paths "/.well-known/oauth-protected-resource" -}}
{{- end -}}
{{- concat $paths .extra | uniq | toJson -}}
{{- end -}}
