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
{{- $_ = set $s "imageRef" (include "mcp-servers.imageRef" (dict "image" $s.image "repository" $repository "tag" $tag "global" $root.Values.global)) -}}
{{- $_ = set $s "testImageRef" (include "mcp-servers.imageRef" (dict "image" $s.test.image "repository" $s.test.image.repository "tag" ($s.test.image.tag | default $root.Chart.AppVersion | toString) "global" $root.Values.global)) -}}
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

{{- /* Resources: all four are required so scheduling and HPA percentages mean something. */ -}}
{{- range $kind := list "requests" "limits" -}}
{{- range $res := list "cpu" "memory" -}}
{{- if not (dig $kind $res "" $s.resources) -}}
{{- fail (printf "%s.resources.%s.%s: required" $key $kind $res) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $s.gpu.enabled -}}
{{- $_ = set $s.resources.limits $s.gpu.resourceName (int $s.gpu.count) -}}
{{- $_ = set $s "nodeSelector" (merge (deepCopy $s.nodeSelector) $s.gpu.nodeSelector) -}}
{{- $_ = set $s "tolerations" (concat $s.tolerations $s.gpu.tolerations) -}}
{{- end -}}

{{- /* Restricted pods unless the server opts out: the schema cannot list every risky field. */ -}}
{{- if not $s.allowPrivileged -}}
{{- $optOut := printf "set %s.allowPrivileged: true only for an image that cannot run otherwise" $key -}}
{{- range $context := list "podSecurityContext" "securityContext" -}}
{{- $at := printf "%s.%s" $key $context -}}
{{- $values := get $s $context -}}
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
{{- with dig "capabilities" "add" list $values -}}
{{- fail (printf "%s.capabilities.add: %s adds Linux capabilities; remove it or %s" $at (toJson .) $optOut) -}}
{{- end -}}
{{- end -}}
{{- end -}}

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
  "MCP_DRAIN_TIMEOUT_SECONDS" (toString (int $s.drain.timeoutSeconds)) -}}
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
