{{/*
Validation: what a schema cannot say. Each mcp-servers.validate.* define checks one concern of a
server (mcp-servers.server calls them in a fixed order, once per render) and fails naming the
full values key and what is allowed; it renders nothing, so callers discard it. Unless its usage
line says otherwise it takes the server being computed (SERVER), whose `key` is `servers.<name>`.
*/}}

{{/*
mcp-servers.validate.name: the server's name (the key under `servers`) is a DNS-1035 label, as
the names of its objects must be.
Usage: {{- $_ := include "mcp-servers.validate.name" NAME -}}
*/}}
{{- define "mcp-servers.validate.name" -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$" .) -}}
{{- fail (printf "servers.%s: server name %q must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)" . .) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.probeHandlers: the server sets at most one handler (httpGet, tcpSocket,
exec or grpc) in each of its own probes (RAW: its entry under `servers`), which then replaces
the default's (mcp-servers.probe).
Usage: {{- $_ := include "mcp-servers.validate.probeHandlers" (dict "server" SERVER "raw" RAW) -}}
*/}}
{{- define "mcp-servers.validate.probeHandlers" -}}
{{- $key := .server.key -}}
{{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" -}}
{{- $own := pick (get $.raw $probe | default dict) "httpGet" "tcpSocket" "exec" "grpc" -}}
{{- if gt (len $own) 1 -}}
{{- fail (printf "%s.%s: set exactly one handler (httpGet, tcpSocket, exec or grpc), not %s" $key $probe (keys $own | sortAlpha | join " and ")) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.startupProbe: the startup probe allows a slow start at least 40 s
(`periodSeconds` x `failureThreshold`, Kubernetes' defaults 10 and 3 when unset).
Usage: {{- $_ := include "mcp-servers.validate.startupProbe" SERVER -}}
*/}}
{{- define "mcp-servers.validate.startupProbe" -}}
{{- $startup := .startupProbe -}}
{{- $startupSeconds := mul (int ($startup.periodSeconds | default 10)) (int ($startup.failureThreshold | default 3)) -}}
{{- if lt $startupSeconds 40 -}}
{{- fail (printf "%s.startupProbe: allows %ds (periodSeconds x failureThreshold); it must allow at least 40s for a slow start" .key $startupSeconds) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.probePorts: an httpGet, tcpSocket or grpc probe targets a port the server
container exposes, `http` or the number in `port` (a probe with its own `host` aims elsewhere
and is left alone).
Usage: {{- $_ := include "mcp-servers.validate.probePorts" SERVER -}}
*/}}
{{- define "mcp-servers.validate.probePorts" -}}
{{- $s := . -}}
{{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" -}}
{{- $handlers := get $s $probe | default dict -}}
{{- range $handler := list "httpGet" "tcpSocket" "grpc" -}}
{{- $h := get $handlers $handler | default dict -}}
{{- if and (hasKey $h "port") (not $h.host) -}}
{{- $at := printf "%s.%s.%s.port" $s.key $probe $handler -}}
{{- if kindIs "string" $h.port -}}
{{- if ne $h.port "http" -}}
{{- fail (printf "%s: %q is not a port the container exposes; use http or %d (%s.port)" $at $h.port (int $s.port) $s.key) -}}
{{- end -}}
{{- else if ne (int $h.port) (int $s.port) -}}
{{- if eq $handler "grpc" -}}
{{- fail (printf "%s: %d is not a port the container exposes; use %d (%s.port)" $at (int $h.port) (int $s.port) $s.key) -}}
{{- end -}}
{{- fail (printf "%s: %d is not a port the container exposes; use http or %d (%s.port)" $at (int $h.port) (int $s.port) $s.key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.fullname: the object name (`.fullname`, from mcp-servers.names.fullname)
is a DNS-1035 label.
Usage: {{- $_ := include "mcp-servers.validate.fullname" SERVER -}}
*/}}
{{- define "mcp-servers.validate.fullname" -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" .fullname) -}}
{{- fail (printf "%s.fullnameOverride: %q is not a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)" .key .fullname) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.metricsPort: `metrics.port` is not `port`: the runtime serves /metrics on a
port of its own and nothing else there.
Usage: {{- $_ := include "mcp-servers.validate.metricsPort" SERVER -}}
*/}}
{{- define "mcp-servers.validate.metricsPort" -}}
{{- if eq (int .metrics.port) (int .port) -}}
{{- fail (printf "%s.metrics.port: %d is also %s.port; /metrics is served on a port of its own, which MCP clients do not reach" .key (int .port) .key) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.durationSeconds: a Prometheus duration (`1m30s`, `500ms`) in seconds.
Usage: {{ include "mcp-servers.durationSeconds" DURATION | float64 }}
*/}}
{{- define "mcp-servers.durationSeconds" -}}
{{- $units := dict "ms" 0.001 "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 "y" 31536000 -}}
{{- $seconds := 0.0 -}}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" . -1 -}}
{{- $seconds = addf $seconds (mulf (regexFind "^[0-9]+" .) (get $units (regexReplaceAll "^[0-9]+" . ""))) -}}
{{- end -}}
{{- $seconds -}}
{{- end -}}

{{/*
mcp-servers.validate.serviceMonitor: the scrape timeout is at most the interval, or Prometheus
refuses the scrape job and nothing scrapes the server.
Usage: {{- $_ := include "mcp-servers.validate.serviceMonitor" SERVER -}}
*/}}
{{- define "mcp-servers.validate.serviceMonitor" -}}
{{- with .metrics.serviceMonitor -}}
{{- if and .enabled (gt (include "mcp-servers.durationSeconds" .scrapeTimeout | float64) (include "mcp-servers.durationSeconds" .interval | float64)) -}}
{{- fail (printf "%s.metrics.serviceMonitor.scrapeTimeout: %s is longer than its interval, %s; Prometheus refuses such a scrape job, and nothing would scrape the server. Set it to %s or less" $.key .scrapeTimeout .interval .interval) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.images: the server image has a repository (`image.repository`, or `code`
for the runtime image) and, like the test image when the test is enabled, a valid reference
(mcp-servers.validate.image).
Usage: {{- $_ := include "mcp-servers.validate.images" (dict "server" SERVER "root" $) -}}
*/}}
{{- define "mcp-servers.validate.images" -}}
{{- $s := .server -}}
{{- $root := .root -}}
{{- $key := $s.key -}}
{{- $repository := include "mcp-servers.images.repository" . -}}
{{- if not $repository -}}
{{- fail (printf "%s.image.repository: required (or set %s.code to run inline code on the runtime image)" $key $key) -}}
{{- end -}}
{{- $tag := include "mcp-servers.images.tag" (dict "image" $s.image "root" $root) -}}
{{- $_ := include "mcp-servers.validate.image" (dict "key" (printf "%s.image" $key) "image" $s.image "repository" $repository "tag" $tag "global" $root.Values.global) -}}
{{- if $s.test.enabled -}}
{{- $testTag := include "mcp-servers.images.tag" (dict "image" $s.test.image "root" $root) -}}
{{- $_ = include "mcp-servers.validate.image" (dict "key" (printf "%s.test.image" $key) "image" $s.test.image "repository" $s.test.image.repository "tag" $testTag "global" $root.Values.global) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.image: the registry is a host[:port][/path] without a URL scheme; the
repository is [domain/]path in lower case without a URL scheme, tag or digest (Docker's
reference grammar); the tag, unless empty (a sidecar's image pinned by its digest alone), is a
tag, not a digest. KEY is the image's values key.
Usage: {{- $_ := include "mcp-servers.validate.image" (dict "key" "servers.todo.image" "image" $s.image "repository" REPOSITORY "tag" TAG "global" $.Values.global) -}}
*/}}
{{- define "mcp-servers.validate.image" -}}
{{- $key := .key -}}
{{- $scheme := "^[A-Za-z][-+.A-Za-z0-9]*://" -}}
{{- $domain := "([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:.]+\\])(:[0-9]+)?" -}}
{{- $path := "[a-z0-9]+(([.]|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([.]|_|__|-+)[a-z0-9]+)*)*" -}}
{{- $hasDigest := hasKey .image "digest" -}}
{{- $registry := .image.registry -}}
{{- $registryKey := printf "%s.registry" $key -}}
{{- if not $registry -}}
{{- $registry = .global.imageRegistry -}}
{{- $registryKey = "global.imageRegistry" -}}
{{- end -}}
{{- with $registry -}}
{{- if regexMatch $scheme . -}}
{{- fail (printf "%s: %q starts with a URL scheme; give the registry host (and port or path) without it: %q" $registryKey . (regexReplaceAll $scheme . "" | trimSuffix "/")) -}}
{{- end -}}
{{- if not (regexMatch (printf "^%s(/%s)?$" $domain $path) (trimSuffix "/" .)) -}}
{{- fail (printf "%s: %q is not a registry; use a host with an optional port and path, e.g. registry.example.com:5000/team" $registryKey .) -}}
{{- end -}}
{{- end -}}
{{- $repository := toString .repository -}}
{{- $at := printf "%s.repository" $key -}}
{{- if regexMatch $scheme $repository -}}
{{- fail (printf "%s: %q starts with a URL scheme; an image reference has none: use %q" $at $repository (regexReplaceAll $scheme $repository "")) -}}
{{- end -}}
{{- if contains "@" $repository -}}
{{- $name := regexReplaceAll "(:[^:/@]*)?@.*$" $repository "" -}}
{{- $digest := regexReplaceAll "^[^@]*@" $repository "" -}}
{{- if $hasDigest -}}
{{- fail (printf "%s: %q contains a digest; set the repository to %q and %s.digest to %q" $at $repository $name $key $digest) -}}
{{- end -}}
{{- fail (printf "%s: %q contains a digest, which %s cannot take; set the repository to %q and %s.tag to a tag" $at $repository $key $name $key) -}}
{{- end -}}
{{- $domainPart := "" -}}
{{- with include "mcp-servers.images.ownRegistry" $repository -}}
{{- $domainPart = printf "%s/" . -}}
{{- if $.image.registry -}}
{{- fail (printf "%s.registry: %q, and %s: %q names the registry %q too; keep one of them (a repository that names its registry is used as is)" $key $.image.registry $at $repository .) -}}
{{- end -}}
{{- end -}}
{{- $remote := trimPrefix $domainPart $repository -}}
{{- if contains ":" (last (splitList "/" $remote)) -}}
{{- $name := regexReplaceAll ":[^:/]*$" $repository "" -}}
{{- fail (printf "%s: %q contains a tag; set the repository to %q and %s.tag to %q" $at $repository $name $key (regexReplaceAll "^.*:" $repository "")) -}}
{{- end -}}
{{- if regexMatch "[A-Z]" $remote -}}
{{- fail (printf "%s: %q has upper-case letters; repository paths are lower case: use %q" $at $repository (printf "%s%s" $domainPart (lower $remote))) -}}
{{- end -}}
{{- if not (and (regexMatch (printf "^%s$" $path) $remote) (or (not $domainPart) (regexMatch (printf "^%s/$" $domain) $domainPart))) -}}
{{- fail (printf "%s: %q is not an image repository; use [registry[:port]/]path, whose components are lower-case letters and digits joined by '.', '_', '__' or '-', separated by '/'" $at $repository) -}}
{{- end -}}
{{- $tag := toString .tag -}}
{{- if regexMatch "^@?[A-Za-z][A-Za-z0-9]*([+._-][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$" $tag -}}
{{- if $hasDigest -}}
{{- fail (printf "%s.tag: %q is a digest; put it in %s.digest" $key $tag $key) -}}
{{- end -}}
{{- fail (printf "%s.tag: %q is a digest, which %s cannot take; use a tag" $key $tag $key) -}}
{{- end -}}
{{- if and $tag (not (regexMatch "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$" $tag)) -}}
{{- fail (printf "%s.tag: %q is not an image tag; use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'" $key $tag) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.replicas: an autoscaler has `minReplicas` <= `maxReplicas`, a CPU or
memory target or more `metrics`, and each of those names its source by its `type` (a `Pods`
metric in `pods`, and so on); a stateful server (`stateless: false`), whose MCP sessions live
in one pod, has neither an autoscaler nor more than one replica.
Usage: {{- $_ := include "mcp-servers.validate.replicas" SERVER -}}
*/}}
{{- define "mcp-servers.validate.replicas" -}}
{{- $s := . -}}
{{- $key := $s.key -}}
{{- if $s.autoscaling.enabled -}}
{{- $maxReplicas := int $s.autoscaling.maxReplicas -}}
{{- if gt (int $s.autoscaling.minReplicas) $maxReplicas -}}
{{- fail (printf "%s.autoscaling.minReplicas: %d is greater than %s.autoscaling.maxReplicas (%d)" $key (int $s.autoscaling.minReplicas) $key $maxReplicas) -}}
{{- end -}}
{{- if not (or $s.autoscaling.targetCPUUtilizationPercentage $s.autoscaling.targetMemoryUtilizationPercentage $s.autoscaling.metrics) -}}
{{- fail (printf "%s.autoscaling: set targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage above 0, or metrics, when autoscaling is enabled" $key) -}}
{{- end -}}
{{- range $index, $metric := $s.autoscaling.metrics -}}
{{- $type := toString $metric.type -}}
{{- if not (has $type (list "Resource" "ContainerResource" "Pods" "Object" "External")) -}}
{{- fail (printf "%s.autoscaling.metrics[%d].type: %q is not a metric source type; use Resource, ContainerResource, Pods, Object or External" $key $index $type) -}}
{{- end -}}
{{- $source := printf "%s%s" (lower (substr 0 1 $type)) (substr 1 (len $type) $type) -}}
{{- if not (hasKey $metric $source) -}}
{{- fail (printf "%s.autoscaling.metrics[%d]: a %s metric is described in %s.autoscaling.metrics[%d].%s, which is missing" $key $index $type $key $index $source) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $s.stateless -}}
{{- if $s.autoscaling.enabled -}}
{{- fail (printf "%s.autoscaling.enabled: a stateful server (stateless: false) cannot be autoscaled; its MCP sessions live in one pod. Set %s.stateless: true or turn autoscaling off" $key $key) -}}
{{- end -}}
{{- if gt (int $s.replicas) 1 -}}
{{- fail (printf "%s.replicas: a stateful server (stateless: false) cannot run more than 1 replica; its MCP sessions live in one pod. Set %s.stateless: true or replicas: 1" $key $key) -}}
{{- end -}}
{{- if gt (int $s.workers) 1 -}}
{{- fail (printf "%s.workers: a stateful server (stateless: false) cannot run more than 1 worker; its MCP sessions live in one process. Set %s.stateless: true or workers: 1" $key $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.disruptionBudget: a percentage `maxUnavailable` is at most 100% (the
schema checks its form, Kubernetes' `^[0-9]+%$`), and neither 0 nor 0%: a budget that lets no
pod go blocks every node drain until someone deletes it.
Usage: {{- $_ := include "mcp-servers.validate.disruptionBudget" SERVER -}}
*/}}
{{- define "mcp-servers.validate.disruptionBudget" -}}
{{- $value := .podDisruptionBudget.maxUnavailable -}}
{{- if eq (trimSuffix "%" (toString $value)) "0" -}}
{{- fail (printf "%s.podDisruptionBudget.maxUnavailable: %s lets no pod be evicted, so every node drain waits until the budget is changed; use 1 or more pods or a percentage above 0%%" .key (toJson $value)) -}}
{{- end -}}
{{- if and (kindIs "string" $value) (gt (trimSuffix "%" $value | atoi) 100) -}}
{{- fail (printf "%s.podDisruptionBudget.maxUnavailable: %q is more than 100%%; use a percentage from 1%% to 100%% or a number of pods" .key $value) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.networkPolicy: what the schema cannot compare in the egress rules (the
generated Kubernetes definitions check the rest): an `endPort` is not below its `port`; and
`tierPortRange` is either empty or a whole range, `endPort` not below `port` (half a range
would render a rule Kubernetes refuses, or silently one port).
Usage: {{- $_ := include "mcp-servers.validate.networkPolicy" SERVER -}}
*/}}
{{- define "mcp-servers.validate.networkPolicy" -}}
{{- $s := . -}}
{{- with $s.networkPolicy.tierPortRange -}}
{{- $range := . -}}
{{- $at := printf "%s.networkPolicy.tierPortRange" $s.key -}}
{{- range $field := list "port" "endPort" -}}
{{- if not (get $range $field) -}}
{{- fail (printf "%s.%s: required in a range (the %s port the MCP tier may reach); set both port and endPort, or leave %s empty" $at $field (ternary "first" "last" (eq $field "port")) $at) -}}
{{- end -}}
{{- end -}}
{{- if lt (int .endPort) (int .port) -}}
{{- fail (printf "%s.endPort: %d is below port %d; endPort ends the range that starts at port" $at (int .endPort) (int .port)) -}}
{{- end -}}
{{- end -}}
{{- range $i, $rule := $s.networkPolicy.egress -}}
{{- range $j, $port := ($rule | default dict).ports -}}
{{- $port = $port | default dict -}}
{{- if and (regexMatch "^[0-9]+$" (toString $port.port)) (regexMatch "^[0-9]+$" (toString $port.endPort)) (lt (int $port.endPort) (int $port.port)) -}}
{{- fail (printf "%s.networkPolicy.egress[%d].ports[%d].endPort: %d is below port %d; endPort ends the range that starts at port" $s.key $i $j (int $port.endPort) (int $port.port)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.resources: cpu and memory requests and limits are required (scheduling
and HPA percentages need them); every quantity follows Kubernetes' grammar and is not negative;
memory is at least 6Mi, the least a container runtime runs a container in (runc's init is
OOM-killed below a few MiB, Docker refuses limits under 6 MiB), which catches a missing unit
(`512` is 512 bytes; a request of exactly 0 stays allowed); no request exceeds its limit.
Usage: {{- $_ := include "mcp-servers.validate.resources" (dict "key" "servers.<name>" "resources" $s.resources) -}}
*/}}
{{- define "mcp-servers.validate.resources" -}}
{{- $key := .key -}}
{{- $resources := .resources | default dict -}}
{{- $amounts := dict "requests" (dict) "limits" (dict) -}}
{{- range $kind := list "requests" "limits" -}}
{{- $list := get $resources $kind | default dict -}}
{{- range $res := list "cpu" "memory" -}}
{{- $value := get $list $res -}}
{{- if or (kindIs "invalid" $value) (eq (toString $value) "") -}}
{{- fail (printf "%s.resources.%s.%s: required" $key $kind $res) -}}
{{- end -}}
{{- end -}}
{{- range $res, $value := $list -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $at := printf "%s.resources.%s.%s" $key $kind $res -}}
{{- $amount := include "mcp-servers.quantity" (dict "key" $at "value" $value) | float64 -}}
{{- if lt $amount 0.0 -}}
{{- fail (printf "%s: %s is negative; a resource quantity cannot be below 0" $at (ternary (printf "%q" $value) (toString $value) (kindIs "string" $value))) -}}
{{- end -}}
{{- if and (eq $res "memory") (lt $amount 6291456.0) (or (eq $kind "limits") (gt $amount 0.0)) -}}
{{- if regexMatch "[a-zA-Z]$" (toString $value) -}}
{{- fail (printf "%s: %s is %.0f bytes; a container cannot run in less than 6Mi (runc's container init is OOM-killed below a few MiB and Docker refuses memory limits under 6 MiB): use at least 6Mi" $at (toString $value) $amount) -}}
{{- end -}}
{{- fail (printf "%s: %s is %.0f bytes (a memory quantity without a unit counts bytes); a container cannot run in less than 6Mi (runc's container init is OOM-killed below a few MiB and Docker refuses memory limits under 6 MiB): give a unit, e.g. 512Mi" $at (toString $value) $amount) -}}
{{- end -}}
{{- $_ := set (get $amounts $kind) $res $amount -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $res, $request := $amounts.requests -}}
{{- if hasKey $amounts.limits $res -}}
{{- /* The tolerance absorbs float rounding: 100m and 0.1 are the same quantity. */ -}}
{{- if gt $request (mulf (get $amounts.limits $res) 1.000000001) -}}
{{- fail (printf "%s.resources.requests.%s: %s is more than %s.resources.limits.%s (%s); a request cannot exceed its limit" $key $res (toString (get $resources.requests $res)) $key $res (toString (get $resources.limits $res))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.quantity: a Kubernetes quantity (`500m`, `0.5`, `1.5Gi`, `1e3`, `+1`, or a YAML
number) in base units (cores, bytes) as text; fails naming KEY when VALUE does not follow
Kubernetes' grammar (k8s.io/apimachinery/pkg/api/resource).
Usage: {{- $bytes := include "mcp-servers.quantity" (dict "key" "servers.x.resources.limits.memory" "value" "512Mi") | float64 -}}
*/}}
{{- define "mcp-servers.quantity" -}}
{{- $text := toString .value -}}
{{- if not (regexMatch "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$" $text) -}}
{{- fail (printf "%s: %s is not a Kubernetes quantity; use a number with an optional suffix (n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi or Ei) or exponent, e.g. 250m or 0.5 for cpu, 512Mi or 1.5Gi for memory" .key (ternary (printf "%q" $text) $text (kindIs "string" .value))) -}}
{{- end -}}
{{- $number := regexFind "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)" $text -}}
{{- $suffix := trimPrefix $number $text -}}
{{- $multipliers := dict "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- $divisors := dict "n" 1e9 "u" 1e6 "m" 1e3 -}}
{{- if regexMatch "^([eE][+-]?[0-9]+)?$" $suffix -}}
{{- /* A plain number or a decimal exponent: Go's ParseFloat reads it whole. */ -}}
{{- float64 $text -}}
{{- else if hasKey $divisors $suffix -}}
{{- divf (float64 $number) (get $divisors $suffix) -}}
{{- else -}}
{{- mulf (float64 $number) (get $multipliers $suffix) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.podSecurity: unless the server sets `allowPrivileged`, the pod stays
restricted: not root (no `runAsUser: 0`, `runAsNonRoot: false`, and `runAsNonRoot: true` in one
of the two contexts, the container's winning as in Kubernetes), not privileged, no privilege
escalation, no added capabilities, and a seccomp filter (RuntimeDefault or Localhost in one of
the two contexts, never Unconfined). A null in the server's own contexts (RAW: its entry under
`servers`; a whole context, runAsNonRoot, runAsUser, allowPrivilegeEscalation) is refused: the
merge would render it and Kubernetes read it as unset. The schema cannot say this: `null` passes
it, and a `defaults` key set to null vanishes before any check, so the effective runAsNonRoot and
seccomp type are checked too.
Usage: {{- $_ := include "mcp-servers.validate.podSecurity" (dict "server" SERVER "raw" RAW) -}}
*/}}
{{- define "mcp-servers.validate.podSecurity" -}}
{{- $s := .server -}}
{{- $key := $s.key -}}
{{- if not $s.allowPrivileged -}}
{{- $optOut := printf "set %s.allowPrivileged: true only for an image that cannot run otherwise" $key -}}
{{- range $context := list "podSecurityContext" "securityContext" -}}
{{- $at := printf "%s.%s" $key $context -}}
{{- $values := get $s $context | default dict -}}
{{- if and (hasKey $.raw $context) (kindIs "invalid" (get $.raw $context)) -}}
{{- fail (printf "%s: null drops the restricted defaults (non-root user, no privilege escalation, seccomp); remove it to keep them, override single fields or %s" $at $optOut) -}}
{{- end -}}
{{- $own := get $.raw $context | default dict -}}
{{- if and (hasKey $own "runAsNonRoot") (kindIs "invalid" (get $own "runAsNonRoot")) -}}
{{- fail (printf "%s.runAsNonRoot: null drops the check that the server runs as non-root; remove it to keep the default, set true or %s" $at $optOut) -}}
{{- end -}}
{{- if and (hasKey $own "runAsUser") (kindIs "invalid" (get $own "runAsUser")) -}}
{{- fail (printf "%s.runAsUser: null leaves the UID to the image, which may be root; remove it to keep the default, use a non-root UID or %s" $at $optOut) -}}
{{- end -}}
{{- if and (hasKey $own "allowPrivilegeEscalation") (kindIs "invalid" (get $own "allowPrivilegeEscalation")) -}}
{{- fail (printf "%s.allowPrivilegeEscalation: null lets the server gain privileges (setuid), as true does; remove it to keep the default, set false or %s" $at $optOut) -}}
{{- end -}}
{{- $_ := include "mcp-servers.validate.restrictedContext" (dict "at" $at "context" $values "container" (eq $context "securityContext") "subject" "the server" "optOut" $optOut) -}}
{{- end -}}
{{- $pod := $s.podSecurityContext | default dict -}}
{{- $container := $s.securityContext | default dict -}}
{{- $nonRoot := $pod.runAsNonRoot -}}
{{- if not (kindIs "invalid" $container.runAsNonRoot) -}}
{{- $nonRoot = $container.runAsNonRoot -}}
{{- end -}}
{{- if ne (toString $nonRoot) "true" -}}
{{- fail (printf "%s.podSecurityContext.runAsNonRoot: unset here and in %s.securityContext, so nothing stops the image from running as root; set it to true or %s" $key $key $optOut) -}}
{{- end -}}
{{- $seccomp := get ($container.seccompProfile | default dict) "type" | default (get ($pod.seccompProfile | default dict) "type") -}}
{{- if not $seccomp -}}
{{- fail (printf "%s.podSecurityContext.seccompProfile: unset here and in %s.securityContext, so the server runs without a seccomp filter; set type RuntimeDefault or Localhost or %s" $key $key $optOut) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.restrictedContext: one security context (a pod's or a container's, CONTEXT,
its values key AT) keeps the restricted profile: not root (`runAsUser: 0`, `runAsNonRoot:
false`), not privileged, no privilege escalation, no added capabilities, no `Unconfined` seccomp,
and for a container (CONTAINER true) every capability dropped: a list replaces the default's, so
a `drop` without ALL keeps the runtime's default capabilities, which Pod Security's restricted
level refuses. SUBJECT names who would gain the privilege ("the server"); OPTOUT is the message's
way out.
Usage: {{- $_ := include "mcp-servers.validate.restrictedContext" (dict "at" AT "context" CONTEXT "container" CONTAINER "subject" SUBJECT "optOut" OPTOUT) -}}
*/}}
{{- define "mcp-servers.validate.restrictedContext" -}}
{{- if and (hasKey .context "runAsUser") (eq (toString .context.runAsUser) "0") -}}
{{- fail (printf "%s.runAsUser: 0 runs %s as root; use a non-root UID or %s" $.at $.subject $.optOut) -}}
{{- end -}}
{{- if and (hasKey .context "runAsNonRoot") (eq (toString .context.runAsNonRoot) "false") -}}
{{- fail (printf "%s.runAsNonRoot: false lets %s run as root; remove it or %s" $.at $.subject $.optOut) -}}
{{- end -}}
{{- if eq (toString .context.privileged) "true" -}}
{{- fail (printf "%s.privileged: true gives %s the node's devices and kernel; remove it or %s" $.at $.subject $.optOut) -}}
{{- end -}}
{{- if eq (toString .context.allowPrivilegeEscalation) "true" -}}
{{- fail (printf "%s.allowPrivilegeEscalation: true lets %s gain privileges (setuid); remove it or %s" $.at $.subject $.optOut) -}}
{{- end -}}
{{- with get (.context.capabilities | default dict) "add" -}}
{{- fail (printf "%s.capabilities.add: %s adds Linux capabilities; remove it or %s" $.at (toJson .) $.optOut) -}}
{{- end -}}
{{- if .container -}}
{{- $drop := get (.context.capabilities | default dict) "drop" | default list -}}
{{- if not (has "ALL" $drop) -}}
{{- fail (printf "%s.capabilities.drop: %s keeps the Linux capabilities the container runtime grants by default; include ALL (the restricted profile) or %s" $.at (toJson $drop) $.optOut) -}}
{{- end -}}
{{- end -}}
{{- if eq (toString (get (.context.seccompProfile | default dict) "type")) "Unconfined" -}}
{{- fail (printf "%s.seccompProfile.type: Unconfined runs %s without a seccomp filter; use RuntimeDefault or Localhost or %s" $.at $.subject $.optOut) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.drain: the pod's grace period covers the preStop sleep, the drain timeout
and about 5 s the runtime still needs after draining (a quiet second, up to 3 s closing
connections, lifespan shutdown), so in-flight tool calls finish before SIGKILL.
Usage: {{- $_ := include "mcp-servers.validate.drain" SERVER -}}
*/}}
{{- define "mcp-servers.validate.drain" -}}
{{- $preStop := int .drain.preStopSleepSeconds -}}
{{- $drainTimeout := int .drain.timeoutSeconds -}}
{{- $graceNeeded := add $preStop $drainTimeout 5 -}}
{{- if lt (int .terminationGracePeriodSeconds) $graceNeeded -}}
{{- fail (printf "%s.terminationGracePeriodSeconds: %d is too short; it must be at least %d (drain.preStopSleepSeconds %d + drain.timeoutSeconds %d + 5 for the runtime's shutdown after draining) so in-flight tool calls finish before SIGKILL" .key (int .terminationGracePeriodSeconds) $graceNeeded $preStop $drainTimeout) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.service: a NodePort Service has a `nodePort` (30000-32767), a LoadBalancer
Service may have one, a ClusterIP Service none; what publishes the Service outside the cluster
(`hosts`, `externalTrafficPolicy`) needs a NodePort or LoadBalancer Service, and what configures
a load balancer (`loadBalancerClass`, `loadBalancerSourceRanges`) a LoadBalancer one; hosts
are host names or IPv4 addresses, source ranges CIDRs; two IP families need a dual-stack policy.
Usage: {{- $_ := include "mcp-servers.validate.service" SERVER -}}
*/}}
{{- define "mcp-servers.validate.service" -}}
{{- $key := printf "%s.service" .key -}}
{{- $service := .service -}}
{{- $type := $service.type -}}
{{- $nodePort := int $service.nodePort -}}
{{- if and (eq $type "NodePort") (lt $nodePort 30000) -}}
{{- fail (printf "%s.nodePort: required (30000-32767) when %s.type is NodePort" $key $key) -}}
{{- else if and (eq $type "LoadBalancer") $nodePort (lt $nodePort 30000) -}}
{{- fail (printf "%s.nodePort: %d is not a node port (30000-32767); 0 lets Kubernetes pick one" $key $nodePort) -}}
{{- else if and (eq $type "ClusterIP") $nodePort -}}
{{- fail (printf "%s.nodePort: only valid when %s.type is NodePort or LoadBalancer (it is ClusterIP)" $key $key) -}}
{{- end -}}
{{- if eq $type "ClusterIP" -}}
{{- range $field := list "hosts" "externalTrafficPolicy" -}}
{{- if index $service $field -}}
{{- fail (printf "%s.%s: only valid when %s.type is NodePort or LoadBalancer (it is ClusterIP): a ClusterIP Service is not reachable from outside the cluster" $key $field $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if ne $type "LoadBalancer" -}}
{{- range $field := list "loadBalancerClass" "loadBalancerSourceRanges" -}}
{{- if index $service $field -}}
{{- fail (printf "%s.%s: only valid when %s.type is LoadBalancer (it is %s)" $key $field $key $type) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $hostPattern := printf "^%s$" (include "mcp-servers.pattern.hostName" .) -}}
{{- range $host := $service.hosts -}}
{{- if not (regexMatch $hostPattern (toString $host)) -}}
{{- fail (printf "%s.hosts: %q is not a host name or IPv4 address (lower-case DNS labels; no scheme, port or path)" $key (toString $host)) -}}
{{- end -}}
{{- end -}}
{{- $cidr := "^(([0-9]{1,3}\\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])|[0-9a-fA-F:]*:[0-9a-fA-F:.]*/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$" -}}
{{- range $range := $service.loadBalancerSourceRanges -}}
{{- if not (regexMatch $cidr (toString $range)) -}}
{{- fail (printf "%s.loadBalancerSourceRanges: %q is not a CIDR (an IPv4 or IPv6 address, `/` and a prefix length, e.g. 203.0.113.0/24)" $key (toString $range)) -}}
{{- end -}}
{{- end -}}
{{- if and (gt (len ($service.ipFamilies | default list)) 1) (not (has $service.ipFamilyPolicy (list "PreferDualStack" "RequireDualStack"))) -}}
{{- fail (printf "%s.ipFamilies: two families need %s.ipFamilyPolicy PreferDualStack or RequireDualStack (it is %s)" $key $key ($service.ipFamilyPolicy | default "SingleStack, the default")) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.serviceKubeVersion: the Service's `trafficDistribution` is one the cluster's
Kubernetes knows: PreferClose since 1.31 (beta, on by default), PreferSameZone and
PreferSameNode since 1.34; an older API server would drop the field without a word.
Usage: {{- $_ := include "mcp-servers.validate.serviceKubeVersion" (dict "server" SERVER "root" $) -}}
*/}}
{{- define "mcp-servers.validate.serviceKubeVersion" -}}
{{- $wanted := .server.service.trafficDistribution -}}
{{- $version := .root.Capabilities.KubeVersion.Version -}}
{{- $needs := get (dict "PreferClose" "1.31" "PreferSameZone" "1.34" "PreferSameNode" "1.34") ($wanted | default "") -}}
{{- if and $needs (semverCompare (printf "<%s.0-0" $needs) $version) -}}
{{- fail (printf "%s.service.trafficDistribution: %s needs Kubernetes %s or later; this cluster runs %s" .server.key $wanted $needs $version) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.pattern.hostName: the regular expression (without anchors) of a lower-case DNS name,
labels of at most 63 characters; an IPv4 address matches it too.
Usage: {{ $pattern := printf "^%s$" (include "mcp-servers.pattern.hostName" .) }}
*/}}
{{- define "mcp-servers.pattern.hostName" -}}
[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*
{{- end -}}

{{/*
mcp-servers.validate.exposure: an enabled `ingress` has host names and an enabled `httpRoute`
has Gateways and host names (the server refuses unknown hosts, so a route without them would
only answer 421), each a DNS name or a `*.` wildcard, and while the NetworkPolicy is on each
names the namespace of the proxy that must reach the server.
Usage: {{- $_ := include "mcp-servers.validate.exposure" SERVER -}}
*/}}
{{- define "mcp-servers.validate.exposure" -}}
{{- $key := .key -}}
{{- $host := printf "^(\\*\\.)?%s$" (include "mcp-servers.pattern.hostName" .) -}}
{{- range $kind, $hostsKey := dict "ingress" "hosts" "httpRoute" "hostnames" -}}
{{- $exposure := index $ $kind -}}
{{- if $exposure.enabled -}}
{{- $hosts := index $exposure $hostsKey -}}
{{- if not $hosts -}}
{{- fail (printf "%s.%s.%s: at least one host name is required when %s.%s.enabled; the server answers only the hosts it knows" $key $kind $hostsKey $key $kind) -}}
{{- end -}}
{{- range $name := $hosts -}}
{{- if not (regexMatch $host (toString $name)) -}}
{{- fail (printf "%s.%s.%s: %q is not a host name (lower-case DNS labels, optionally `*.` first; no scheme, port or path)" $key $kind $hostsKey (toString $name)) -}}
{{- end -}}
{{- end -}}
{{- if and $.networkPolicy.enabled (not $exposure.controllerNamespace) -}}
{{- fail (printf "%s.%s.controllerNamespace: required while %s.networkPolicy.enabled, so that the NetworkPolicy admits the proxy's pods; name the namespace they run in" $key $kind $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .httpRoute.enabled (not .httpRoute.parentRefs) -}}
{{- fail (printf "%s.httpRoute.parentRefs: at least one Gateway is required when %s.httpRoute.enabled, e.g. [{name: public, namespace: gateways}]" $key $key) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.auth: `auth` says enough to work and nothing that would silently do nothing:
mode `token` names its Secret; mode `oauth` has an http(s) issuer and JWKS URI, a resource URL
(when set) ending in the runtime's `/mcp`, and scopes without whitespace or commas (the
runtime splits MCP_JWT_REQUIRED_SCOPES at both); `toolGrants` only in mode `oauth` (with one shared
token every caller is the same one, and without auth there is no caller to tell apart). Grants
a server inherits from `defaults` are fine when the server itself turns `mode` away from
`oauth`; `defaults` granting tools while its own mode is not `oauth` is not. While `mode` is not
`none` the chart owns the authentication variables (mcp-servers.auth.ownedEnv), and a rate limit
set in `auth.rateLimit` owns its variable: `env` and `secrets` setting one fail naming both keys.
Usage: {{- $_ := include "mcp-servers.validate.auth" (dict "server" SERVER "raw" RAW "root" $) -}}
(RAW: the server's own values, before `defaults` were merged under them)
*/}}
{{- define "mcp-servers.validate.auth" -}}
{{- $s := .server -}}
{{- $key := $s.key -}}
{{- $auth := $s.auth -}}
{{- $mode := toString $auth.mode -}}
{{- $at := printf "%s.auth" $key -}}
{{- $url := "^https?://[^/?#\\s]+([/?][^#\\s]*)?$" -}}
{{- if and (eq $mode "token") (not $auth.token.existingSecret) -}}
{{- fail (printf "%s.token.existingSecret: required when %s.mode is token (a Secret in the release namespace holding the bearer token under %s.token.key)" $at $at $at) -}}
{{- end -}}
{{- if eq $mode "oauth" -}}
{{- range $field := list "issuer" "jwksUri" -}}
{{- if not (get $auth.oauth $field) -}}
{{- fail (printf "%s.oauth.%s: required when %s.mode is oauth" $at $field $at) -}}
{{- end -}}
{{- end -}}
{{- range $field := list "issuer" "jwksUri" -}}
{{- $value := toString (get $auth.oauth $field) -}}
{{- if not (regexMatch $url $value) -}}
{{- fail (printf "%s.oauth.%s: %q is not an http:// or https:// URL (a scheme, a host and an optional path; no fragment)" $at $field $value) -}}
{{- end -}}
{{- end -}}
{{- with $auth.oauth.resourceUrl -}}
{{- /* The runtime serves MCP at /mcp only and derives its metadata's location from this. */ -}}
{{- if not (regexMatch "^https?://[^/?#\\s]+/mcp$" (toString .)) -}}
{{- fail (printf "%s.oauth.resourceUrl: %q is not the URL of the server's /mcp as clients reach it; use http(s)://<host>[:port]/mcp, e.g. https://todo.example.com/mcp" $at (toString .)) -}}
{{- end -}}
{{- end -}}
{{- range $i, $scope := $auth.oauth.requiredScopes -}}
{{- if regexMatch "[\\s,]" (toString $scope) -}}
{{- fail (printf "%s.oauth.requiredScopes[%d]: %q contains whitespace or a comma, which separate scopes; list each scope as its own entry" $at $i (toString $scope)) -}}
{{- end -}}
{{- end -}}
{{- else if $auth.toolGrants -}}
{{- $own := dig "auth" "toolGrants" dict $.raw -}}
{{- $ownMode := dig "auth" "mode" "" $.raw -}}
{{- if $own -}}
{{- fail (printf "%s.toolGrants: only used when %s.mode is oauth (it is %s): with %s every caller is the same one; set %s.mode: oauth or remove the grants" $at $at $mode (ternary "one shared token" "no authentication" (eq $mode "token")) $at) -}}
{{- end -}}
{{- if not $ownMode -}}
{{- $defaultMode := dig "auth" "mode" "none" $.root.Values.defaults -}}
{{- fail (printf "defaults.auth.toolGrants: only used when defaults.auth.mode is oauth (it is %s), and %s inherits both; set defaults.auth.mode: oauth, remove the grants, or set %s.mode" $defaultMode $key $at) -}}
{{- end -}}
{{- end -}}
{{- $env := $s.env | default dict -}}
{{- $secrets := dict -}}
{{- range $i, $secret := $s.secrets -}}
{{- $_ := set $secrets (toString $secret.name) (printf "%s.secrets[%d].name" $key $i) -}}
{{- end -}}
{{- $owned := dict -}}
{{- if ne $mode "none" -}}
{{- $owned = include "mcp-servers.auth.ownedEnv" . | fromJson -}}
{{- end -}}
{{- range $name, $field := dict "MCP_RATE_LIMIT_PER_CALLER" "perCaller" "MCP_RATE_LIMIT_PER_SERVER" "perServer" -}}
{{- if get $auth.rateLimit $field -}}
{{- $_ := set $owned $name (printf "auth.rateLimit.%s" $field) -}}
{{- end -}}
{{- end -}}
{{- range $name := keys $owned | sortAlpha -}}
{{- $by := "" -}}
{{- if hasKey $env $name -}}
{{- $by = printf "%s.env.%s" $key $name -}}
{{- else if hasKey $secrets $name -}}
{{- $by = get $secrets $name -}}
{{- end -}}
{{- if $by -}}
{{- $from := get $owned $name -}}
{{- if hasPrefix "auth.rateLimit." $from -}}
{{- fail (printf "%s: %s is set by the chart from %s.%s; remove one of them" $by $name $key $from) -}}
{{- end -}}
{{- fail (printf "%s: %s conflicts with %s.mode (%s), from which the chart sets the server's authentication (%s: %s.%s); remove %s" $by $name $at $mode $name $key $from $by) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.code: the file names of inline `code` are ConfigMap keys (no
directories), and `codeEntrypoint` is one of them.
Usage: {{- $_ := include "mcp-servers.validate.code" SERVER -}}
*/}}
{{- define "mcp-servers.validate.code" -}}
{{- $s := . -}}
{{- if $s.code -}}
{{- range $file := keys $s.code | sortAlpha -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" $file) -}}
{{- fail (printf "%s.code.%s: not a valid ConfigMap key (letters, digits, '-', '_' and '.' only; no directories)" $s.key $file) -}}
{{- end -}}
{{- end -}}
{{- if not (hasKey $s.code $s.codeEntrypoint) -}}
{{- fail (printf "%s.codeEntrypoint: %q is not a file in %s.code (files: %s)" $s.key $s.codeEntrypoint $s.key (keys $s.code | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.env: every `env` name is an environment variable name and none is one the
chart sets itself (CHART_ENV, from mcp-servers.env.chart).
Usage: {{- $_ := include "mcp-servers.validate.env" (dict "server" SERVER "chartEnv" CHART_ENV) -}}
*/}}
{{- define "mcp-servers.validate.env" -}}
{{- $key := .server.key -}}
{{- range $envName := keys .server.env | sortAlpha -}}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" $envName) -}}
{{- fail (printf "%s.env.%s: not a valid environment variable name (letters, digits and '_', not starting with a digit)" $key $envName) -}}
{{- end -}}
{{- if hasKey $.chartEnv $envName -}}
{{- fail (printf "%s.env.%s: set by the chart (see the server's own keys such as port, stateless, logLevel, allowedHosts); remove it" $key $envName) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.secrets: each of `secrets` names a variable that is not also in `env`, not
set by the chart (CHART_ENV) and not listed twice; with `secrets`, the ExternalSecret's store
(`externalSecret.secretStoreRef.name`) is named.
Usage: {{- $_ := include "mcp-servers.validate.secrets" (dict "server" SERVER "chartEnv" CHART_ENV) -}}
*/}}
{{- define "mcp-servers.validate.secrets" -}}
{{- $s := .server -}}
{{- $key := $s.key -}}
{{- $seen := dict -}}
{{- range $i, $secret := $s.secrets -}}
{{- if hasKey $s.env $secret.name -}}
{{- fail (printf "%s.secrets[%d].name: %s is also set in %s.env" $key $i $secret.name $key) -}}
{{- end -}}
{{- if hasKey $.chartEnv $secret.name -}}
{{- fail (printf "%s.secrets[%d].name: %s is set by the chart; it cannot come from a secret" $key $i $secret.name) -}}
{{- end -}}
{{- if hasKey $seen $secret.name -}}
{{- fail (printf "%s.secrets[%d].name: %s is already listed at %s.secrets[%d]" $key $i $secret.name $key (index $seen $secret.name)) -}}
{{- end -}}
{{- $_ := set $seen $secret.name $i -}}
{{- end -}}
{{- if and $s.secrets (not $s.externalSecret.secretStoreRef.name) -}}
{{- fail (printf "%s.externalSecret.secretStoreRef.name: required when %s.secrets is set (the SecretStore or ClusterSecretStore the ExternalSecret reads from)" $key $key) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.secretEnv: a secret-looking variable (`MCP_AUTH_TOKEN`, `DATABASE_URL`,
names ending in `_TOKEN`, `_PASSWORD`, `_SECRET` or `_KEY`, any case, but not `_PUBLIC_KEY`)
never takes a literal value, which the ConfigMap would hold in clear text (an empty one would
also hide the Secret's value); a `valueFrom` is fine.
Usage: {{- $_ := include "mcp-servers.validate.secretEnv" SERVER -}}
*/}}
{{- define "mcp-servers.validate.secretEnv" -}}
{{- $s := . -}}
{{- range $envName := keys $s.env | sortAlpha -}}
{{- if and (regexMatch "(?i)(^|_)(TOKEN|PASSWORD|SECRET|KEY|DATABASE_URL)$" $envName) (not (regexMatch "(?i)(^|_)PUBLIC_KEY$" $envName)) (not (kindIs "map" (index $s.env $envName))) -}}
{{- fail (printf "%s.env.%s: looks like a secret, and a literal value is stored in clear text in the ConfigMap %s; list it in %s.secrets (an ExternalSecret) or in the Secret named by %s.existingSecret, or give it as {valueFrom: {secretKeyRef: ...}}" $s.key $envName $s.fullname $s.key $s.key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.requestState: neither `env` nor `secrets` sets MCP_REQUEST_STATE_KEYS,
which the pods take from `requestState` alone: a second source could give replicas different
keys, and each would refuse what the others sealed.
Usage: {{- $_ := include "mcp-servers.validate.requestState" SERVER -}}
*/}}
{{- define "mcp-servers.validate.requestState" -}}
{{- $s := . -}}
{{- $taken := printf "set by the chart from %s.requestState (the Secret named by requestState.existingSecret, else one the chart keeps); remove it" $s.key -}}
{{- if hasKey $s.env "MCP_REQUEST_STATE_KEYS" -}}
{{- fail (printf "%s.env.MCP_REQUEST_STATE_KEYS: %s" $s.key $taken) -}}
{{- end -}}
{{- range $i, $secret := $s.secrets -}}
{{- if eq $secret.name "MCP_REQUEST_STATE_KEYS" -}}
{{- fail (printf "%s.secrets[%d].name: MCP_REQUEST_STATE_KEYS is %s" $s.key $i $taken) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.persistence: each enabled `persistence` entry (after the merge with
`defaults`, so a type or size may come from there) has an identifier that can name a volume, a
DNS-1123 label other than the chart's own `tmp`, `config` and `code`; a `type` (the schema lists
them; here a missing one is caught, and an unknown one when the schema is skipped); an absolute
`mountPath` unless `mountInServer: false`, when a sidecar or init container mounts it instead;
with `existingClaim` a `claimName` that is a claim name once rendered, with `configMap`
and `secret` a `name` that is one, and no `readOnly: false`; and sizes that
are Kubernetes quantities (mcp-servers.quantity), a claim's above 0.
Usage: {{- $_ := include "mcp-servers.validate.persistence" (dict "server" SERVER "root" $) -}}
*/}}
{{- define "mcp-servers.validate.persistence" -}}
{{- $s := .server -}}
{{- $root := .root -}}
{{- $types := list "persistentVolumeClaim" "existingClaim" "emptyDir" "configMap" "secret" -}}
{{- $persistence := $s.persistence | default dict -}}
{{- range $id := keys $persistence | sortAlpha -}}
{{- $entry := get $persistence $id -}}
{{- if and (kindIs "map" $entry) (dig "enabled" true $entry) -}}
{{- $at := printf "%s.persistence.%s" $s.key $id -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" $id) -}}
{{- fail (printf "%s: %q cannot name a volume; use a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)" $at $id) -}}
{{- end -}}
{{- if has $id (list "tmp" "config" "code") -}}
{{- fail (printf "%s: %q is the name of a volume the chart mounts itself (tmp, config, code); choose another identifier" $at $id) -}}
{{- end -}}
{{- $type := toString ($entry.type | default "") -}}
{{- if not $type -}}
{{- fail (printf "%s.type: required; use persistentVolumeClaim (a claim the chart creates), existingClaim, emptyDir, configMap or secret" $at) -}}
{{- end -}}
{{- if not (has $type $types) -}}
{{- fail (printf "%s.type: %q is not a volume type; use persistentVolumeClaim (a claim the chart creates), existingClaim, emptyDir, configMap or secret" $at $type) -}}
{{- end -}}
{{- $mountPath := toString ($entry.mountPath | default "") -}}
{{- if not (dig "mountInServer" true $entry) -}}
{{- $mounted := false -}}
{{- range $kind := list "sidecars" "initContainers" -}}
{{- range $container := get $s $kind | default dict -}}
{{- if and (kindIs "map" $container) (dig "enabled" true $container) -}}
{{- range $container.volumeMounts | default list -}}
{{- if eq (toString .name) $id -}}
{{- $mounted = true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $mounted -}}
{{- fail (printf "%s.mountInServer: false, and no %s.sidecars or %s.initContainers entry mounts %s; mount it in one of them or leave the entry out" $at $s.key $s.key $id) -}}
{{- end -}}
{{- else if not $mountPath -}}
{{- fail (printf "%s.mountPath: required (the absolute path of the volume in the server container, e.g. /data)" $at) -}}
{{- end -}}
{{- if and $mountPath (not (hasPrefix "/" $mountPath)) -}}
{{- fail (printf "%s.mountPath: %q is not an absolute path; start it with /" $at $mountPath) -}}
{{- end -}}
{{- /* Types that read an object of the namespace: its name's key, its kind, what it holds. */ -}}
{{- $sources := dict
  "existingClaim" (list "claimName" "PersistentVolumeClaim" "a PersistentVolumeClaim in the release namespace")
  "configMap" (list "name" "ConfigMap" "the ConfigMap in the release namespace whose keys become files")
  "secret" (list "name" "Secret" "the Secret in the release namespace whose keys become files") -}}
{{- with get $sources $type -}}
{{- $field := index . 0 -}}
{{- $objectName := tpl (toString (get $entry $field | default "")) $root -}}
{{- if not $objectName -}}
{{- fail (printf "%s.%s: required when %s.type is %s (%s)" $at $field $at $type (index . 2)) -}}
{{- end -}}
{{- if not (and (le (len $objectName) 253) (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" $objectName)) -}}
{{- fail (printf "%s.%s: %q is not a %s name; use lowercase letters, digits, '-' and '.' (a DNS-1123 subdomain)" $at $field $objectName (index . 1)) -}}
{{- end -}}
{{- end -}}
{{- if and (has $type (list "configMap" "secret")) (hasKey $entry "readOnly") (not $entry.readOnly) -}}
{{- fail (printf "%s.readOnly: false, but a %s volume is always read-only; remove it" $at $type) -}}
{{- end -}}
{{- if and (eq $type "persistentVolumeClaim") (not (kindIs "invalid" $entry.size)) -}}
{{- $size := include "mcp-servers.quantity" (dict "key" (printf "%s.size" $at) "value" $entry.size) | float64 -}}
{{- if le $size 0.0 -}}
{{- fail (printf "%s.size: %s is not above 0; a claim requests some storage, e.g. 1Gi" $at (toString $entry.size)) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $type "emptyDir") (not (kindIs "invalid" $entry.sizeLimit)) -}}
{{- $limit := include "mcp-servers.quantity" (dict "key" (printf "%s.sizeLimit" $at) "value" $entry.sizeLimit) | float64 -}}
{{- if lt $limit 0.0 -}}
{{- fail (printf "%s.sizeLimit: %s is negative; use a size, e.g. 256Mi" $at (toString $entry.sizeLimit)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.mountPaths: no `persistence` entry is mounted at, above or inside a path the
chart mounts itself (/tmp, the writable emptyDir; /etc/mcp, server-config.json; with `code`,
/opt/mcp/code), nor at, above or inside another entry's path: a mount above would hide the
chart's, and one inside a read-only mount cannot be created. Paths compare cleaned (`/data/`
is `/data`); entries with `mountInServer: false` are not in the server container. `.volumes`
(mcp-servers.persistence) must be set.
Usage: {{- $_ := include "mcp-servers.validate.mountPaths" SERVER -}}
*/}}
{{- define "mcp-servers.validate.mountPaths" -}}
{{- $s := . -}}
{{- $own := list (dict "path" "/tmp" "what" "the server's writable emptyDir") (dict "path" "/etc/mcp" "what" "server-config.json read-only") -}}
{{- if $s.code -}}
{{- $own = append $own (dict "path" "/opt/mcp/code" "what" (printf "%s.code read-only" $s.key)) -}}
{{- end -}}
{{- $seen := list -}}
{{- range $id := keys $s.volumes | sortAlpha -}}
{{- if (get $s.volumes $id).mountInServer -}}
{{- $at := printf "%s.persistence.%s.mountPath" $s.key $id -}}
{{- $path := clean (get $s.volumes $id).mountPath -}}
{{- $slashed := printf "%s/" (trimSuffix "/" $path) -}}
{{- range $own -}}
{{- $theirs := printf "%s/" .path -}}
{{- if or (hasPrefix $slashed $theirs) (hasPrefix $theirs $slashed) -}}
{{- fail (printf "%s: %s overlaps %s, where the chart mounts %s; mount the volume elsewhere (not at, above or inside %s)" $at $path .path .what .path) -}}
{{- end -}}
{{- end -}}
{{- range $seen -}}
{{- $theirs := printf "%s/" (trimSuffix "/" .path) -}}
{{- if or (hasPrefix $slashed $theirs) (hasPrefix $theirs $slashed) -}}
{{- fail (printf "%s: %s overlaps %s.persistence.%s.mountPath (%s); mount each entry at its own path, not at, above or inside another's" $at $path $s.key .id .path) -}}
{{- end -}}
{{- end -}}
{{- $seen = append $seen (dict "id" $id "path" $path) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.singleWriter: a server with a ReadWriteOnce or ReadWriteOncePod claim
(mcp-servers.persistence.singleWriter) runs one pod: `replicas` at most 1 and no autoscaler.
Another pod would wait forever for a claim held on another node (ReadWriteOnce), or on any
other pod (ReadWriteOncePod), and the data has one writer. `.volumes` must be set.
Usage: {{- $_ := include "mcp-servers.validate.singleWriter" SERVER -}}
*/}}
{{- define "mcp-servers.validate.singleWriter" -}}
{{- $s := . -}}
{{- with include "mcp-servers.persistence.singleWriter" (dict "server" $s) -}}
{{- $at := printf "%s.persistence.%s" $s.key . -}}
{{- $mode := (get $s.volumes .).accessMode -}}
{{- $share := printf "or share the volume between pods with %s.accessMode ReadWriteMany (a storage class that offers it)" $at -}}
{{- if $s.autoscaling.enabled -}}
{{- fail (printf "%s: a %s claim has one writer; set %s.autoscaling.enabled: false (an autoscaler adds pods), %s" $at $mode $s.key $share) -}}
{{- end -}}
{{- if gt (int $s.replicas) 1 -}}
{{- fail (printf "%s: a %s claim has one writer; set %s.replicas: 1 (it is %d), %s" $at $mode $s.key (int $s.replicas) $share) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.unique: across the fleet, no two servers share an object name (their
metrics Services' included), a node port, an exposed host or a ServiceAccount they create (`serviceAccount.name` set fleet-wide in
`defaults` would render one object per server under that name). SEEN holds those of the servers
checked before (`fullnames`, `metricsServices`, `nodePorts`, `hosts`, `serviceAccounts`: value
-> server name); the server's are added.
Usage: {{- $_ := include "mcp-servers.validate.unique" (dict "server" SERVER "seen" (dict "fullnames" (dict) "metricsServices" (dict) "nodePorts" (dict) "hosts" (dict) "serviceAccounts" (dict))) -}}
*/}}
{{- define "mcp-servers.validate.unique" -}}
{{- $s := .server -}}
{{- with get .seen.fullnames $s.fullname -}}
{{- fail (printf "servers.%s.fullnameOverride: object name %q is already used by servers.%s" $s.name $s.fullname .) -}}
{{- end -}}
{{- $_ := set .seen.fullnames $s.fullname $s.name -}}
{{- /* Cut to fit its suffix, two fullnames alike in their first 55 characters give one. */ -}}
{{- $metricsService := include "mcp-servers.names.metricsService" $s -}}
{{- with get .seen.metricsServices $metricsService -}}
{{- fail (printf "%s: the name of its metrics Service, %q (the fullname cut to leave room for -metrics), is also servers.%s's; shorten one of the two names, or set fullnameOverride" $s.key $metricsService .) -}}
{{- end -}}
{{- $_ = set .seen.metricsServices $metricsService $s.name -}}
{{- if and (ne $s.service.type "ClusterIP") $s.service.nodePort -}}
{{- $port := toString (int $s.service.nodePort) -}}
{{- with get $.seen.nodePorts $port -}}
{{- fail (printf "servers.%s.service.nodePort: %s is already used by servers.%s" $s.name $port .) -}}
{{- end -}}
{{- $_ = set .seen.nodePorts $port $s.name -}}
{{- end -}}
{{- range $host := include "mcp-servers.exposure.hosts" $s | fromJsonArray -}}
{{- with get $.seen.hosts $host -}}
{{- fail (printf "%s: host %s is already exposed by servers.%s; each host serves one server" $s.key $host .) -}}
{{- end -}}
{{- $_ := set $.seen.hosts $host $s.name -}}
{{- end -}}
{{- if $s.serviceAccount.create -}}
{{- with get .seen.serviceAccounts $s.serviceAccountName -}}
{{- fail (printf "%s.serviceAccount.name: ServiceAccount %q is already created by servers.%s; set serviceAccount.create: false on all but one server that shares it, or give each its own name" $s.key $s.serviceAccountName .) -}}
{{- end -}}
{{- $_ := set .seen.serviceAccounts $s.serviceAccountName $s.name -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.rollout: the RollingUpdate can move (`maxSurge` and `maxUnavailable` not
both 0, counting `0%`), and `maxUnavailable` is at most 100%.
Usage: {{- $_ := include "mcp-servers.validate.rollout" SERVER -}}
*/}}
{{- define "mcp-servers.validate.rollout" -}}
{{- $at := printf "%s.rollingUpdate" .key -}}
{{- $surge := trimSuffix "%" (toString .rollingUpdate.maxSurge) -}}
{{- $unavailable := toString .rollingUpdate.maxUnavailable -}}
{{- if and (eq (atoi $surge) 0) (eq (atoi (trimSuffix "%" $unavailable)) 0) -}}
{{- fail (printf "%s: maxSurge and maxUnavailable are both 0, so a rollout could neither add a pod nor take one away; set one of them above 0" $at) -}}
{{- end -}}
{{- if and (hasSuffix "%" $unavailable) (gt (atoi (trimSuffix "%" $unavailable)) 100) -}}
{{- fail (printf "%s.maxUnavailable: %q is more than 100%%; use a percentage from 0%% to 100%% or a number of pods" $at $unavailable) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.dns: `dnsPolicy: None` comes with the name servers it leaves the pods
(the NetworkPolicy admits them; the schema has them be IP addresses), and `Default`, with the
NetworkPolicy's DNS rule, with a rule in `networkPolicy.egress` that admits port 53 (no
`ports`, or 53 among them): the node's resolver is an address the chart cannot know, and
without one every lookup would be dropped.
Usage: {{- $_ := include "mcp-servers.validate.dns" SERVER -}}
*/}}
{{- define "mcp-servers.validate.dns" -}}
{{- if and (eq .dnsPolicy "None") (not (dig "nameservers" list (.dnsConfig | default dict))) -}}
{{- fail (printf "%s.dnsConfig.nameservers: required when %s.dnsPolicy is None, which gives the pods no other name server" .key .key) -}}
{{- end -}}
{{- if and (eq .dnsPolicy "Default") .networkPolicy.enabled .networkPolicy.allowDNS -}}
{{- $admitted := false -}}
{{- range $rule := .networkPolicy.egress | default list -}}
{{- if not $rule.ports -}}
{{- $admitted = true -}}
{{- end -}}
{{- range $port := $rule.ports | default list -}}
{{- $first := int ($port.port | default 0) -}}
{{- if or (not $port.port) (eq $first 53) (and $port.endPort (le $first 53) (ge (int $port.endPort) 53)) -}}
{{- $admitted = true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $admitted -}}
{{- fail (printf "%s.dnsPolicy: Default sends lookups to the node's resolver, which the NetworkPolicy admits only through %s.networkPolicy.egress; add a rule to it with port 53 (UDP and TCP) to the resolver's address, or set %s.networkPolicy.allowDNS: false if DNS is admitted otherwise" .key .key .key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.extraContainers: each enabled entry of `sidecars` and `initContainers` can
name a container (a DNS-1123 label, not `server`, used once across both), has an image with a
repository and a tag or digest (mcp-servers.validate.image), mounts only the pod's volumes (`tmp`
and the `persistence` identifiers), keeps the restricted profile in its security context as
rendered (the server's `securityContext` under its own, mcp-servers.validate.restrictedContext)
unless `allowPrivileged`, and, for an init container, has no probes or lifecycle hooks; a
sidecar's port numbers are not the server's (`port`, `metrics.port`) nor another sidecar's. With an
autoscaler measuring the whole pod (`autoscaling.scope: pod`), a sidecar requests each resource
the autoscaler scales on: Kubernetes measures a pod's utilization against the requests of all its
running containers. `.volumes` must be set.
Usage: {{- $_ := include "mcp-servers.validate.extraContainers" (dict "server" SERVER "root" $) -}}
*/}}
{{- define "mcp-servers.validate.extraContainers" -}}
{{- $s := .server -}}
{{- $root := .root -}}
{{- $seen := dict -}}
{{- $volumes := prepend (keys $s.volumes | sortAlpha) "tmp" -}}
{{- $scaledOn := list -}}
{{- if and $s.autoscaling.enabled (eq $s.autoscaling.scope "pod") -}}
{{- if $s.autoscaling.targetCPUUtilizationPercentage -}}
{{- $scaledOn = append $scaledOn "cpu" -}}
{{- end -}}
{{- if $s.autoscaling.targetMemoryUtilizationPercentage -}}
{{- $scaledOn = append $scaledOn "memory" -}}
{{- end -}}
{{- end -}}
{{- range $kind := list "sidecars" "initContainers" -}}
{{- $entries := get $s $kind | default dict -}}
{{- range $id := keys $entries | sortAlpha -}}
{{- $entry := get $entries $id -}}
{{- if and (kindIs "map" $entry) (dig "enabled" true $entry) -}}
{{- $at := printf "%s.%s.%s" $s.key $kind $id -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" $id) -}}
{{- fail (printf "%s: %q cannot name a container; use a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)" $at $id) -}}
{{- end -}}
{{- if eq $id "server" -}}
{{- fail (printf "%s: server is the name of the server's own container; choose another identifier" $at) -}}
{{- end -}}
{{- with get $seen $id -}}
{{- fail (printf "%s: %s is also the identifier of %s.%s.%s; the containers of a pod need distinct names" $at $id $s.key . $id) -}}
{{- end -}}
{{- $_ := set $seen $id $kind -}}
{{- $image := $entry.image | default dict -}}
{{- if not $image.repository -}}
{{- fail (printf "%s.image.repository: required (the container's image, e.g. gcr.io/cloud-sql-connectors/cloud-sql-proxy)" $at) -}}
{{- end -}}
{{- if not (or $image.tag $image.digest) -}}
{{- fail (printf "%s.image.tag: required, or %s.image.digest: the chart has no version to give another project's image" $at $at) -}}
{{- end -}}
{{- $_ = include "mcp-servers.validate.image" (dict "key" (printf "%s.image" $at) "image" $image "repository" $image.repository "tag" (toString ($image.tag | default "")) "global" $root.Values.global) -}}
{{- if eq $kind "initContainers" -}}
{{- if hasKey $entry "metrics" -}}
{{- fail (printf "%s.metrics: an init container ends before the server starts, so there is nothing to scrape; move the container to %s.sidecars, or remove metrics" $at $s.key) -}}
{{- end -}}
{{- range $field := list "livenessProbe" "readinessProbe" "startupProbe" "lifecycle" -}}
{{- if hasKey $entry $field -}}
{{- fail (printf "%s.%s: an init container runs to completion before the server starts, and Kubernetes refuses probes and lifecycle hooks for it; remove it, or make the container one of %s.sidecars" $at $field $s.key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $i, $mount := $entry.volumeMounts | default list -}}
{{- if not (has $mount.name $volumes) -}}
{{- fail (printf "%s.volumeMounts[%d].name: %q is not a volume of the pod; mount tmp or a %s.persistence identifier (the pod has %s)" $at $i (toString $mount.name) $s.key (join ", " $volumes)) -}}
{{- end -}}
{{- end -}}
{{- if not $s.allowPrivileged -}}
{{- $context := include "mcp-servers.extraContainers.securityContext" (dict "server" $s "entry" $entry) | fromJson -}}
{{- $optOut := printf "set %s.allowPrivileged: true only for an image that cannot run otherwise" $s.key -}}
{{- $_ = include "mcp-servers.validate.restrictedContext" (dict "at" (printf "%s.securityContext" $at) "context" $context "container" true "subject" (printf "the container %s" $id) "optOut" $optOut) -}}
{{- end -}}
{{- if eq $kind "sidecars" -}}
{{- /* The pod's containers share one network: each port number is bound by one of them. */ -}}
{{- range $i, $p := $entry.ports | default list -}}
{{- $number := int ($p.containerPort | default 0) -}}
{{- $portAt := printf "%s.ports[%d].containerPort" $at $i -}}
{{- $protocol := $p.protocol | default "TCP" -}}
{{- if and (eq $number (int $s.port)) (eq $protocol "TCP") -}}
{{- fail (printf "%s: %d is %s.port, the server's own; the pod's containers share one network, so choose another port for the sidecar" $portAt $number $s.key) -}}
{{- end -}}
{{- if and (eq $number (int $s.metrics.port)) (eq $protocol "TCP") -}}
{{- fail (printf "%s: %d is %s.metrics.port, the server's own; the pod's containers share one network, so choose another port for the sidecar" $portAt $number $s.key) -}}
{{- end -}}
{{- $key := printf "number:%s/%d" $protocol $number -}}
{{- with get $seen $key -}}
{{- fail (printf "%s: %d/%s is also a port of %s; the pod's containers share one network, so each port is bound once" $portAt $number $protocol .) -}}
{{- end -}}
{{- $_ := set $seen $key $at -}}
{{- end -}}
{{- with $entry.metrics -}}
{{- $_ = include "mcp-servers.validate.sidecarMetrics" (dict "at" $at "entry" $entry "seen" $seen "server" $s) -}}
{{- end -}}
{{- range $resource := $scaledOn -}}
{{- if not (dig "resources" "requests" $resource "" $entry) -}}
{{- fail (printf "%s.resources.requests.%s: required while %s.autoscaling scales on %s utilization, which Kubernetes measures against the requests of every container in the pod" $at $resource $s.key $resource) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.sidecarMetrics: a sidecar's `metrics.port` names one of its own TCP `ports`,
and not `http` or `metrics` (the server's own) or another sidecar's metrics port: it becomes the
name of a port of the metrics Service and of the ServiceMonitor endpoint, unique among the
server's. `seen` collects the names taken, under "port:NAME" keys beside the containers'
identifiers.
Usage: {{- $_ := include "mcp-servers.validate.sidecarMetrics" (dict "at" "servers.NAME.sidecars.ID" "entry" ENTRY "seen" DICT "server" SERVER) -}}
*/}}
{{- define "mcp-servers.validate.sidecarMetrics" -}}
{{- $port := .entry.metrics.port -}}
{{- $names := list -}}
{{- range $p := .entry.ports | default list -}}
{{- with $p.name -}}
{{- $names = append $names . -}}
{{- end -}}
{{- end -}}
{{- if has $port (list "http" "metrics") -}}
{{- fail (printf "%s.metrics.port: %s is the name of one of the server's own ports; name the sidecar's metrics port otherwise (in its ports and here)" .at $port) -}}
{{- end -}}
{{- if not (has $port $names) -}}
{{- fail (printf "%s.metrics.port: %q is not the name of one of %s.ports (%s); name the port the sidecar serves its metrics on" .at $port .at (ternary "it names none" (printf "named: %s" (join ", " $names)) (empty $names))) -}}
{{- end -}}
{{- range $p := .entry.ports -}}
{{- if and (eq (toString $p.name) $port) (ne ($p.protocol | default "TCP") "TCP") -}}
{{- fail (printf "%s.metrics.port: %s is a %s port, and Prometheus scrapes over HTTP (TCP); name the sidecar's TCP metrics port" $.at $port $p.protocol) -}}
{{- end -}}
{{- end -}}
{{- with get .seen (printf "port:%s" $port) -}}
{{- fail (printf "%s.metrics.port: %s is also the metrics port of %s; the Service's ports need distinct names" $.at $port .) -}}
{{- end -}}
{{- $_ := set .seen (printf "port:%s" $port) .at -}}
{{- end -}}
