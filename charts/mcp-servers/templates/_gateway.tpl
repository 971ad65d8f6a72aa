{{/*
The gateway (`gateway.enabled`): one more server, built from the release's other servers and
rendered by the same templates as they are. mcp-servers.load computes it last.
*/}}

{{/*
mcp-servers.gateway.entry: the gateway's values as JSON, as if they were a `servers` entry:
the image `mcp-servers/gateway` on port 8020 in one worker (whatever `defaults.workers` says),
`MCP_GATEWAY_SERVERS` listing every server of SERVERS (its Service URL, mcp-servers.url, the
`include`/`exclude` of `gateway.servers.<name>`, and its timeout, retries, concurrency limit
and circuit breaker: `gateway.upstream` with `gateway.servers.<name>` merged over it), an
egress rule to each server's pods on its port, and
`gateway.server` merged over all that (its own `networkPolicy.egress` rules are added).
Usage: {{ include "mcp-servers.gateway.entry" (dict "servers" $computedServers "root" $) | fromJson }}
*/}}
{{- define "mcp-servers.gateway.entry" -}}
{{- $root := .root -}}
{{- $filters := $root.Values.gateway.servers | default dict -}}
{{- $upstreams := dict -}}
{{- $egress := list -}}
{{- range $name, $s := .servers -}}
{{- $filter := index $filters $name | default dict -}}
{{- $upstream := dict "url" $s.url -}}
{{- with $filter.include }}{{ $_ := set $upstream "include" . }}{{ end -}}
{{- with $filter.exclude }}{{ $_ := set $upstream "exclude" . }}{{ end -}}
{{- $policy := mustMergeOverwrite (deepCopy ($root.Values.gateway.upstream | default dict)) (omit $filter "include" "exclude") -}}
{{- $breaker := $policy.circuitBreaker | default dict -}}
{{- $_ := set $upstream "timeout_seconds" (float64 $policy.timeoutSeconds) -}}
{{- $_ = set $upstream "connect_retries" (int $policy.connectRetries) -}}
{{- $_ = set $upstream "max_concurrent_calls" (int $policy.maxConcurrentCalls) -}}
{{- $_ = set $upstream "circuit_breaker" (dict "failures" (int $breaker.failures) "open_seconds" (float64 $breaker.openSeconds)) -}}
{{- $_ = set $upstreams $name $upstream -}}
{{- $to := list (dict "podSelector" (dict "matchLabels" $s.selectorLabels)) -}}
{{- $egress = append $egress (dict "to" $to "ports" (list (dict "port" (int $s.port) "protocol" "TCP"))) -}}
{{- end -}}
{{- $own := deepCopy ($root.Values.gateway.server | default dict) -}}
{{- $entry := dict
  "description" "One /mcp for the tools of every server of the release"
  "image" (dict "repository" "mcp-servers/gateway")
  "port" 8020
  "workers" 1 -}}
{{- $entry = mustMergeOverwrite $entry $own -}}
{{- $_ := set $entry "env" (merge (dict "MCP_GATEWAY_SERVERS" (toJson $upstreams)) ($own.env | default dict)) -}}
{{- $networkPolicy := $entry.networkPolicy | default dict -}}
{{- /* The upstream rules come first; the rest is what a server's list would be, the gateway's
own list or else `defaults`' (lists replace, so merging later would drop the defaults'). */ -}}
{{- $rest := dig "networkPolicy" "egress" (dig "networkPolicy" "egress" list $root.Values.defaults) $own -}}
{{- $_ = set $networkPolicy "egress" (concat $egress ($rest | default list)) -}}
{{- $_ = set $entry "networkPolicy" $networkPolicy -}}
{{- toJson $entry -}}
{{- end -}}

{{/*
mcp-servers.validate.gateway: with `gateway.enabled`, no server is named `gateway`, at least one
server is enabled, every key of `gateway.servers` is an enabled server whose `include` and
`exclude` share no tool, `gateway.server.workers` is 1, and `gateway.server.env` leaves
`MCP_GATEWAY_SERVERS` to the chart.
Usage: {{- $_ := include "mcp-servers.validate.gateway" (dict "servers" $computedServers "root" $) -}}
*/}}
{{- define "mcp-servers.validate.gateway" -}}
{{- $servers := .servers -}}
{{- $gateway := .root.Values.gateway -}}
{{- if hasKey $servers "gateway" -}}
{{- fail "gateway.enabled: servers.gateway is enabled too, and the gateway's objects would take its names; rename that server or disable it" -}}
{{- end -}}
{{- if not $servers -}}
{{- fail "gateway.enabled: no server is enabled for the gateway to serve; add entries under servers" -}}
{{- end -}}
{{- range $name := keys ($gateway.servers | default dict) | sortAlpha -}}
{{- if not (hasKey $servers $name) -}}
{{- fail (printf "gateway.servers.%s: not an enabled server of this release (enabled: %s)" $name (keys $servers | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $filter := index $gateway.servers $name | default dict -}}
{{- range $tool := $filter.include | default list -}}
{{- if has $tool ($filter.exclude | default list) -}}
{{- fail (printf "gateway.servers.%s: include and exclude both name %s" $name $tool) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if gt (int (dig "workers" 1 ($gateway.server | default dict))) 1 -}}
{{- fail "gateway.server.workers: the gateway serves from one process (each upstream's circuit breaker and last listing live in it); scale it with gateway.server.replicas or gateway.server.autoscaling" -}}
{{- end -}}
{{- if hasKey (dig "env" dict ($gateway.server | default dict)) "MCP_GATEWAY_SERVERS" -}}
{{- fail "gateway.server.env.MCP_GATEWAY_SERVERS: set by the chart from the enabled servers and gateway.servers; remove it" -}}
{{- end -}}
{{- end -}}
