{{/*
mcp-servers.names: JSON list of the enabled server names, sorted, so every template renders
servers in the same order and a disabled server renders nothing anywhere.
*/}}
{{- define "mcp-servers.names" -}}
{{- $names := list -}}
{{- range $name := keys .Values.servers | sortAlpha -}}
{{- if dig "enabled" $.Values.defaults.enabled (index $.Values.servers $name) -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
mcp-servers.server (list $ NAME): the server's values with `defaults` deep-merged underneath,
checked, plus the derived fields every template needs (fullname, labels, image reference, ...).
Returned as JSON because `include` can only return text.
*/}}
{{- define "mcp-servers.server" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $key := printf "servers.%s" $name -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$" $name) -}}
{{- fail (printf "%s: server name %q must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)" $key $name) -}}
{{- end -}}
{{- $raw := index $root.Values.servers $name -}}
{{- $s := mustMergeOverwrite (deepCopy $root.Values.defaults) (deepCopy $raw) -}}
{{- $_ := set $s "name" $name -}}
{{- $_ = set $s "key" $key -}}

{{- /* A server-supplied probe handler replaces the default one: two handlers are invalid. */ -}}
{{- $handlers := list "httpGet" "tcpSocket" "exec" "grpc" -}}
{{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" -}}
{{- $own := pick (get $raw $probe | default dict) "httpGet" "tcpSocket" "exec" "grpc" -}}
{{- if gt (len $own) 1 -}}
{{- fail (printf "%s.%s: set exactly one handler (httpGet, tcpSocket, exec or grpc), not %s" $key $probe (keys $own | sortAlpha | join " and ")) -}}
{{- end -}}
{{- if $own -}}
{{- $_ = set $s $probe (mustMergeOverwrite (omit (get $s $probe) "httpGet" "tcpSocket" "exec" "grpc") $own) -}}
{{- end -}}
{{- end -}}
{{- $startup := $s.startupProbe -}}
{{- $startupSeconds := mul (int ($startup.periodSeconds | default 10)) (int ($startup.failureThreshold | default 3)) -}}
{{- if lt $startupSeconds 40 -}}
{{- fail (printf "%s.startupProbe: allows %ds (periodSeconds x failureThreshold); it must allow at least 40s for a slow start" $key $startupSeconds) -}}
{{- end -}}
{{- $_ = include "mcp-servers.validate.probePorts" $s -}}

{{- /* Object names: <name>-mcp, or the templated override, cut to a DNS label. */ -}}
{{- $fullname := printf "%s-mcp" $name -}}
{{- if $s.fullnameOverride -}}
{{- $fullname = tpl $s.fullnameOverride $root -}}
{{- end -}}
{{- $fullname = $fullname | trunc 63 | trimSuffix "-" -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $fullname) -}}
{{- fail (printf "%s.fullnameOverride: %q is not a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)" $key $fullname) -}}
{{- end -}}
{{- $_ = set $s "fullname" $fullname -}}

{{- /* Images. */ -}}
{{- $repository := $s.image.repository -}}
{{- if and (not $repository) $s.code -}}
{{- $repository = "mcp-servers/runtime" -}}
{{- end -}}
{{- if not $repository -}}
{{- fail (printf "%s.image.repository: required (or set %s.code to run inline code on the runtime image)" $key $key) -}}
{{- end -}}
{{- $tag := $s.image.tag | default $root.Chart.AppVersion | toString -}}
{{- $testTag := $s.test.image.tag | default $root.Chart.AppVersion | toString -}}
{{- $_ = include "mcp-servers.validate.image" (dict "key" (printf "%s.image" $key) "image" $s.image "repository" $repository "tag" $tag "global" $root.Values.global) -}}
{{- if $s.test.enabled -}}
{{- $_ = include "mcp-servers.validate.image" (dict "key" (printf "%s.test.image" $key) "image" $s.test.image "repository" $s.test.image.repository "tag" $testTag "global" $root.Values.global) -}}
{{- end -}}
{{- $_ = set $s "imageRef" (include "mcp-servers.imageRef" (dict "image" $s.image "repository" $repository "tag" $tag "global" $root.Values.global)) -}}
{{- $_ = set $s "testImageRef" (include "mcp-servers.imageRef" (dict "image" $s.test.image "repository" $s.test.image.repository "tag" $testTag "global" $root.Values.global)) -}}
{{- $_ = set $s "version" ($s.version | default $tag | toString) -}}

{{- /* Labels: selectors use only the stable name/instance pair. */ -}}
{{- $selector := dict "app.kubernetes.io/name" $name "app.kubernetes.io/instance" $root.Release.Name -}}
{{- $labels := merge (dict
  "helm.sh/chart" (printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/version" ($s.version | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_")
  "app.kubernetes.io/component" "mcp-server"
  "app.kubernetes.io/part-of" $root.Values.global.partOf
  "app.kubernetes.io/managed-by" $root.Release.Service) $selector $root.Values.global.commonLabels -}}
{{- $_ = set $s "selectorLabels" $selector -}}
{{- $constraints := list -}}
{{- range $s.topologySpreadConstraints -}}
{{- $constraints = append $constraints (merge (dict) . (dict "labelSelector" (dict "matchLabels" $selector))) -}}
{{- end -}}
{{- $_ = set $s "topologySpreadConstraints" $constraints -}}
{{- $_ = set $s "labels" $labels -}}

{{- /* Replicas and the state model. */ -}}
{{- $maxReplicas := int $s.replicas -}}
{{- if $s.autoscaling.enabled -}}
{{- $maxReplicas = int $s.autoscaling.maxReplicas -}}
{{- if gt (int $s.autoscaling.minReplicas) $maxReplicas -}}
{{- fail (printf "%s.autoscaling.minReplicas: %d is greater than %s.autoscaling.maxReplicas (%d)" $key (int $s.autoscaling.minReplicas) $key $maxReplicas) -}}
{{- end -}}
{{- if not (or $s.autoscaling.targetCPUUtilizationPercentage $s.autoscaling.targetMemoryUtilizationPercentage) -}}
{{- fail (printf "%s.autoscaling: set targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage above 0 when autoscaling is enabled" $key) -}}
{{- end -}}
{{- end -}}
{{- if not $s.stateless -}}
{{- if $s.autoscaling.enabled -}}
{{- fail (printf "%s.autoscaling.enabled: a stateful server (stateless: false) cannot be autoscaled; its MCP sessions live in one pod. Set %s.stateless: true or turn autoscaling off" $key $key) -}}
{{- end -}}
{{- if gt (int $s.replicas) 1 -}}
{{- fail (printf "%s.replicas: a stateful server (stateless: false) cannot run more than 1 replica; its MCP sessions live in one pod. Set %s.stateless: true or replicas: 1" $key $key) -}}
{{- end -}}
{{- end -}}
{{- $_ = set $s "maxReplicas" $maxReplicas -}}
{{- $_ = include "mcp-servers.validate.disruptionBudget" $s -}}
{{- $_ = include "mcp-servers.validate.networkPolicy" $s -}}

{{- /* Resources: all four are required so scheduling and HPA percentages mean something. */ -}}
{{- $_ = include "mcp-servers.validate.resources" (dict "key" $key "resources" $s.resources) -}}
{{- if $s.gpu.enabled -}}
{{- $_ = set $s.resources.limits $s.gpu.resourceName (int $s.gpu.count) -}}
{{- $_ = set $s "nodeSelector" (merge (deepCopy $s.nodeSelector) $s.gpu.nodeSelector) -}}
{{- $_ = set $s "tolerations" (concat $s.tolerations $s.gpu.tolerations) -}}
{{- end -}}

{{- /* Restricted pods unless the server opts out: the schema cannot list every risky field. */ -}}
{{- $_ = include "mcp-servers.validate.podSecurity" (dict "s" $s "raw" $raw) -}}

{{- /* Draining. */ -}}
{{- /* After the drain the runtime still needs about 5s: a quiet second, up to 3s closing connections, lifespan shutdown. */ -}}
{{- $preStop := int $s.drain.preStopSleepSeconds -}}
{{- $drainTimeout := int $s.drain.timeoutSeconds -}}
{{- $graceNeeded := add $preStop $drainTimeout 5 -}}
{{- if lt (int $s.terminationGracePeriodSeconds) $graceNeeded -}}
{{- fail (printf "%s.terminationGracePeriodSeconds: %d is too short; it must be at least %d (drain.preStopSleepSeconds %d + drain.timeoutSeconds %d + 5 for the runtime's shutdown after draining) so in-flight tool calls finish before SIGKILL" $key (int $s.terminationGracePeriodSeconds) $graceNeeded $preStop $drainTimeout) -}}
{{- end -}}

{{- /* Service. */ -}}
{{- if eq $s.service.type "NodePort" -}}
{{- if lt (int $s.service.nodePort) 30000 -}}
{{- fail (printf "%s.service.nodePort: required (30000-32767) when %s.service.type is NodePort" $key $key) -}}
{{- end -}}
{{- else if $s.service.nodePort -}}
{{- fail (printf "%s.service.nodePort: only valid when %s.service.type is NodePort (it is %s)" $key $key $s.service.type) -}}
{{- end -}}

{{- /* Environment: the ConfigMap carries the runtime's env, the chart owns the MCP_* keys it derives. */ -}}
{{- $domain := $root.Values.global.clusterDomain -}}
{{- $ns := $root.Release.Namespace -}}
{{- $hosts := list $fullname (printf "%s.%s" $fullname $ns) (printf "%s.%s.svc" $fullname $ns) (printf "%s.%s.svc.%s" $fullname $ns $domain) -}}
{{- $_ = set $s "url" (printf "http://%s.%s.svc.%s:%d/mcp" $fullname $ns $domain (int $s.port)) -}}
{{- $chartEnv := dict
  "MCP_TRANSPORT" "streamable-http"
  "MCP_HOST" "0.0.0.0"
  "MCP_PORT" (toString (int $s.port))
  "MCP_STATELESS" (toString $s.stateless)
  "LOG_LEVEL" $s.logLevel
  "MCP_ALLOWED_HOSTS" (concat $hosts $s.allowedHosts | uniq | join ",")
  "MCP_SERVER_CONFIG" "/etc/mcp/server-config.json"
  "MCP_DRAIN_TIMEOUT_SECONDS" (toString (int $s.drain.timeoutSeconds))
  "MCP_MAX_SESSIONS" (toString (int64 $s.sessions.max))
  "MCP_SESSION_IDLE_TIMEOUT_SECONDS" (toString (int64 $s.sessions.idleTimeoutSeconds))
  "MCP_MAX_REQUEST_BYTES" (toString (int64 $s.maxRequestBytes)) -}}
{{- if $s.allowedOrigins -}}
{{- $_ = set $chartEnv "MCP_ALLOWED_ORIGINS" (join "," $s.allowedOrigins) -}}
{{- end -}}
{{- if $s.code -}}
{{- range $file := keys $s.code | sortAlpha -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" $file) -}}
{{- fail (printf "%s.code.%s: not a valid ConfigMap key (letters, digits, '-', '_' and '.' only; no directories)" $key $file) -}}
{{- end -}}
{{- end -}}
{{- if not (hasKey $s.code $s.codeEntrypoint) -}}
{{- fail (printf "%s.codeEntrypoint: %q is not a file in %s.code (files: %s)" $key $s.codeEntrypoint $key (keys $s.code | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $_ = set $chartEnv "MCP_CODE_FILE" (printf "/opt/mcp/code/%s" $s.codeEntrypoint) -}}
{{- end -}}
{{- $plainEnv := dict -}}
{{- $refEnv := list -}}
{{- range $envName := keys $s.env | sortAlpha -}}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" $envName) -}}
{{- fail (printf "%s.env.%s: not a valid environment variable name (letters, digits and '_', not starting with a digit)" $key $envName) -}}
{{- end -}}
{{- if hasKey $chartEnv $envName -}}
{{- fail (printf "%s.env.%s: set by the chart (see the server's own keys such as port, stateless, logLevel, allowedHosts); remove it" $key $envName) -}}
{{- end -}}
{{- $value := index $s.env $envName -}}
{{- if kindIs "map" $value -}}
{{- $refEnv = append $refEnv (dict "name" $envName "valueFrom" $value.valueFrom) -}}
{{- else if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) -}}
{{- /* Helm reads YAML numbers as floats; print 1000000, not 1e+06. */ -}}
{{- $_ = set $plainEnv $envName (toString (int64 $value)) -}}
{{- else -}}
{{- $_ = set $plainEnv $envName (toString $value) -}}
{{- end -}}
{{- end -}}
{{- $_ = set $s "configEnv" (merge $plainEnv $chartEnv) -}}
{{- $_ = set $s "refEnv" $refEnv -}}

{{- /* Secrets. */ -}}
{{- $seen := dict -}}
{{- range $i, $secret := $s.secrets -}}
{{- if hasKey $s.env $secret.name -}}
{{- fail (printf "%s.secrets[%d].name: %s is also set in %s.env" $key $i $secret.name $key) -}}
{{- end -}}
{{- if hasKey $chartEnv $secret.name -}}
{{- fail (printf "%s.secrets[%d].name: %s is set by the chart; it cannot come from a secret" $key $i $secret.name) -}}
{{- end -}}
{{- if hasKey $seen $secret.name -}}
{{- fail (printf "%s.secrets[%d].name: %s is already listed at %s.secrets[%d]" $key $i $secret.name $key (index $seen $secret.name)) -}}
{{- end -}}
{{- $_ = set $seen $secret.name $i -}}
{{- end -}}
{{- if and $s.secrets (not $s.externalSecret.secretStoreRef.name) -}}
{{- fail (printf "%s.externalSecret.secretStoreRef.name: required when %s.secrets is set (the SecretStore or ClusterSecretStore the ExternalSecret reads from)" $key $key) -}}
{{- end -}}
{{- $_ = include "mcp-servers.validate.secretEnv" $s -}}
{{- $secretNames := list -}}
{{- if $s.secrets -}}
{{- $secretNames = append $secretNames $fullname -}}
{{- end -}}
{{- if $s.existingSecret -}}
{{- $secretNames = append $secretNames $s.existingSecret -}}
{{- end -}}
{{- $_ = set $s "secretNames" $secretNames -}}
{{- /* The Secret the helm test pod reads MCP_AUTH_TOKEN from, when the server has one. */ -}}
{{- $_ = set $s "authSecret" (ternary $fullname $s.existingSecret (hasKey $seen "MCP_AUTH_TOKEN")) -}}
{{- $_ = set $s "serviceAccountName" (ternary ($s.serviceAccount.name | default $fullname) ($s.serviceAccount.name | default "default") $s.serviceAccount.create) -}}
{{- toJson $s -}}
{{- end -}}

{{/*
Validation. Each mcp-servers.validate.* define checks one concern of a server (mcp-servers.server
calls them once per render) and fails naming the full values key and what is allowed; it
renders nothing, so callers discard it: {{- $_ := include "mcp-servers.validate.X" ... -}}.
*/}}

{{/*
mcp-servers.quantity (dict "key" KEY "value" VALUE): a Kubernetes quantity (`500m`, `0.5`,
`1.5Gi`, `1e3`, `+1`, or a YAML number) in base units (cores, bytes) as text; fails naming KEY
when VALUE does not follow Kubernetes' grammar (k8s.io/apimachinery/pkg/api/resource).
  {{- $bytes := include "mcp-servers.quantity" (dict "key" "servers.x.resources.limits.memory" "value" "512Mi") | float64 -}}
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
mcp-servers.validate.resources (dict "key" "servers.<name>" "resources" RESOURCES): cpu and memory
requests and limits are required (scheduling and HPA percentages need them); every quantity
follows Kubernetes' grammar and is not negative; memory is at least 6Mi, the least a container
runtime runs a container in (runc's init is OOM-killed below a few MiB, Docker refuses limits
under 6 MiB), which catches a missing unit (`512` is 512 bytes; a request of exactly 0 stays allowed); no request exceeds its limit.
  {{- $_ := include "mcp-servers.validate.resources" (dict "key" $key "resources" $s.resources) -}}
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
mcp-servers.validate.image (dict "key" "servers.<name>.image" "image" IMAGE "repository" REPOSITORY
"tag" TAG "global" .Values.global): the registry is a host[:port][/path] without a URL scheme; the
repository is [domain/]path in lower case without a URL scheme, tag or digest (Docker's
reference grammar); the tag is a tag, not a digest.
  {{- $_ := include "mcp-servers.validate.image" (dict "key" "servers.todo.image" "image" $s.image "repository" $repository "tag" $tag "global" $root.Values.global) -}}
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
{{- $parts := splitList "/" $repository -}}
{{- $first := first $parts -}}
{{- $domainPart := "" -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- $domainPart = printf "%s/" $first -}}
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
{{- if not (regexMatch "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$" $tag) -}}
{{- fail (printf "%s.tag: %q is not an image tag; use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'" $key $tag) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.podSecurity (dict "s" SERVER "raw" SERVER_VALUES): unless the server sets
`allowPrivileged`, the pod stays restricted: not root (no `runAsUser: 0`, `runAsNonRoot: false`,
and `runAsNonRoot: true` in one of the two contexts, the container's winning as in Kubernetes),
not privileged, no privilege escalation, no added capabilities, and a seccomp filter
(RuntimeDefault or Localhost in one of the two contexts, never Unconfined). A null in the
server's own contexts (a whole context, runAsNonRoot, runAsUser, allowPrivilegeEscalation) is
refused: the merge would render it and Kubernetes read it as unset. The schema cannot say this:
`null` passes it, and a `defaults` key set to null vanishes before any check, so the effective
runAsNonRoot and seccomp type are checked too.
  {{- $_ := include "mcp-servers.validate.podSecurity" (dict "s" $s "raw" $raw) -}}
*/}}
{{- define "mcp-servers.validate.podSecurity" -}}
{{- $s := .s -}}
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
{{- if and (hasKey $values "runAsUser") (eq (toString $values.runAsUser) "0") -}}
{{- fail (printf "%s.runAsUser: 0 runs the server as root; use a non-root UID or %s" $at $optOut) -}}
{{- end -}}
{{- if and (hasKey $values "runAsNonRoot") (eq (toString $values.runAsNonRoot) "false") -}}
{{- fail (printf "%s.runAsNonRoot: false lets the server run as root; remove it or %s" $at $optOut) -}}
{{- end -}}
{{- if eq (toString $values.privileged) "true" -}}
{{- fail (printf "%s.privileged: true gives the server the node's devices and kernel; remove it or %s" $at $optOut) -}}
{{- end -}}
{{- if eq (toString $values.allowPrivilegeEscalation) "true" -}}
{{- fail (printf "%s.allowPrivilegeEscalation: true lets the server gain privileges (setuid); remove it or %s" $at $optOut) -}}
{{- end -}}
{{- with get ($values.capabilities | default dict) "add" -}}
{{- fail (printf "%s.capabilities.add: %s adds Linux capabilities; remove it or %s" $at (toJson .) $optOut) -}}
{{- end -}}
{{- if eq (toString (get ($values.seccompProfile | default dict) "type")) "Unconfined" -}}
{{- fail (printf "%s.seccompProfile.type: Unconfined runs the server without a seccomp filter; use RuntimeDefault or Localhost or %s" $at $optOut) -}}
{{- end -}}
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
mcp-servers.validate.probePorts (SERVER): an httpGet, tcpSocket or grpc probe targets a port the
server container exposes, `http` or the number in `port` (a probe with its own `host` aims
elsewhere and is left alone).
  {{- $_ := include "mcp-servers.validate.probePorts" $s -}}
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
mcp-servers.validate.disruptionBudget (SERVER): a percentage `maxUnavailable` is at most 100%
(the schema checks its form, Kubernetes' `^[0-9]+%$`).
  {{- $_ := include "mcp-servers.validate.disruptionBudget" $s -}}
*/}}
{{- define "mcp-servers.validate.disruptionBudget" -}}
{{- $value := .podDisruptionBudget.maxUnavailable -}}
{{- if and (kindIs "string" $value) (gt (trimSuffix "%" $value | atoi) 100) -}}
{{- fail (printf "%s.podDisruptionBudget.maxUnavailable: %q is more than 100%%; use a percentage from 0%% to 100%% or a number of pods" .key $value) -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.validate.networkPolicy (SERVER): what the schema cannot compare in the egress rules
(the generated Kubernetes definitions check the rest): an `endPort` is not below its `port`.
  {{- $_ := include "mcp-servers.validate.networkPolicy" $s -}}
*/}}
{{- define "mcp-servers.validate.networkPolicy" -}}
{{- $s := . -}}
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
mcp-servers.validate.secretEnv (SERVER): a secret-looking variable (`MCP_AUTH_TOKEN`,
`DATABASE_URL`, names ending in `_TOKEN`, `_PASSWORD`, `_SECRET` or `_KEY`, any case, but not
`_PUBLIC_KEY`) never takes a literal value, which the ConfigMap would hold in clear text (an
empty one would also hide the Secret's value); a `valueFrom` is fine.
  {{- $_ := include "mcp-servers.validate.secretEnv" $s -}}
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
mcp-servers.imageRef (dict image repository tag global): registry/repository:tag or @digest.
*/}}
{{- define "mcp-servers.imageRef" -}}
{{- $registry := .image.registry | default .global.imageRegistry -}}
{{- $ref := .repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" (trimSuffix "/" $registry) $ref -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref .tag -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.load: sets `.mcpServers` on the root context to a map name -> server (see
mcp-servers.server) after the checks that span servers (object names and node ports must be
unique). Every template starts with it, so a bad value fails the whole render. Templates of one
chart share the root context, so the fleet is computed once per render, not once per template.
*/}}
{{- define "mcp-servers.load" -}}
{{- if not (hasKey . "mcpServers") -}}
{{- $all := dict -}}
{{- $fullnames := dict -}}
{{- $nodePorts := dict -}}
{{- range $name := include "mcp-servers.names" . | fromJsonArray -}}
{{- $s := include "mcp-servers.server" (list $ $name) | fromJson -}}
{{- with get $fullnames $s.fullname -}}
{{- fail (printf "servers.%s.fullnameOverride: object name %q is already used by servers.%s" $name $s.fullname .) -}}
{{- end -}}
{{- $_ := set $fullnames $s.fullname $name -}}
{{- if eq $s.service.type "NodePort" -}}
{{- $port := toString (int $s.service.nodePort) -}}
{{- with get $nodePorts $port -}}
{{- fail (printf "servers.%s.service.nodePort: %s is already used by servers.%s" $name $port .) -}}
{{- end -}}
{{- $_ = set $nodePorts $port $name -}}
{{- end -}}
{{- $_ = set $all $name $s -}}
{{- end -}}
{{- $_ := set . "mcpServers" $all -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.configData (server): data of the `<name>-mcp` ConfigMap; the Deployment hashes the
same text, so any config or env change rolls the pods.
*/}}
{{- define "mcp-servers.configData" -}}
{{- $identity := dict "name" .name "version" .version "port" (int .port) "description" .description "tools" (.config.tools | default list) -}}
{{- $config := merge $identity (deepCopy .config) -}}
{{- toYaml (merge (dict "server-config.json" (toPrettyJson $config)) .configEnv) -}}
{{- end -}}

{{/*
mcp-servers.secretChecksum (server): hash of everything that decides the server's secret env.
*/}}
{{- define "mcp-servers.secretChecksum" -}}
{{- dict "secrets" .secrets "existingSecret" .existingSecret "externalSecret" .externalSecret | toJson | sha256sum -}}
{{- end -}}

{{/*
mcp-servers.metadata (dict "s" server "root" $ [name labels annotations]): metadata of every
object of a server; extra labels never replace the chart's own.
*/}}
{{- define "mcp-servers.metadata" -}}
name: {{ .name | default .s.fullname }}
namespace: {{ .root.Release.Namespace }}
labels: {{- toYaml (merge (dict) .s.labels (.labels | default dict)) | nindent 2 }}
{{- with .annotations }}
annotations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
