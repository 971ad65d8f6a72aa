{{/*
The pieces of the server's pod (templates/deployment.yaml), in the order the pod spec lists
them; the helm test pod (templates/tests/test-mcp-call.yaml) shares the security contexts and
the image pull Secrets.
*/}}

{{/*
mcp-servers.pod.labels: the pod's labels, as YAML: the standard labels (which select the pod)
plus `podLabels`, which cannot replace them.
Usage: labels: {{- include "mcp-servers.pod.labels" (dict "server" $s "root" $) | nindent 8 }}
*/}}
{{- define "mcp-servers.pod.labels" -}}
{{- toYaml (merge (dict) .server.labels .server.podLabels) -}}
{{- end -}}

{{/*
mcp-servers.pod.annotations: the pod's annotations, as YAML: `checksum/config` and
`checksum/secret` (mcp-servers.config.checksum, mcp-servers.secrets.checksum), which roll the
pods when the config or the secret env changes, then `podAnnotations`.
Usage: annotations: {{- include "mcp-servers.pod.annotations" (dict "server" $s "root" $) | nindent 8 }}
*/}}
{{- define "mcp-servers.pod.annotations" -}}
checksum/config: {{ include "mcp-servers.config.checksum" . }}
checksum/secret: {{ include "mcp-servers.secrets.checksum" . }}
{{- with .server.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
mcp-servers.pod.securityContext: the pod's security context, as YAML: `podSecurityContext`
(restricted unless `allowPrivileged`, mcp-servers.validate.podSecurity).
Usage: securityContext: {{- include "mcp-servers.pod.securityContext" (dict "server" $s "root" $) | nindent 8 }}
*/}}
{{- define "mcp-servers.pod.securityContext" -}}
{{- toYaml .server.podSecurityContext -}}
{{- end -}}

{{/*
mcp-servers.pod.imagePullSecrets: the pod's `imagePullSecrets` entries from
`global.imagePullSecrets`, as YAML; empty when there are none.
Usage: {{- with include "mcp-servers.pod.imagePullSecrets" (dict "server" $s "root" $) }}
      imagePullSecrets: {{- . | nindent 8 }}
      {{- end }}
*/}}
{{- define "mcp-servers.pod.imagePullSecrets" -}}
{{- $entries := list -}}
{{- range .root.Values.global.imagePullSecrets -}}
{{- $entries = append $entries (printf "- name: %s" .) -}}
{{- end -}}
{{- join "\n" $entries -}}
{{- end -}}

{{/*
mcp-servers.pod.nodeSelector: the pod's node selector, as YAML: `nodeSelector`, plus
`gpu.nodeSelector` when the GPU is enabled (the server's own keys win); empty when there is none.
Usage: {{- with include "mcp-servers.pod.nodeSelector" (dict "server" $s "root" $) }}
      nodeSelector: {{- . | nindent 8 }}
      {{- end }}
*/}}
{{- define "mcp-servers.pod.nodeSelector" -}}
{{- $selector := .server.nodeSelector -}}
{{- if .server.gpu.enabled -}}
{{- $selector = merge (deepCopy $selector) .server.gpu.nodeSelector -}}
{{- end -}}
{{- with $selector -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.pod.tolerations: the pod's tolerations, as YAML: `tolerations`, then
`gpu.tolerations` when the GPU is enabled; empty when there are none.
Usage: {{- with include "mcp-servers.pod.tolerations" (dict "server" $s "root" $) }}
      tolerations: {{- . | nindent 8 }}
      {{- end }}
*/}}
{{- define "mcp-servers.pod.tolerations" -}}
{{- $tolerations := .server.tolerations -}}
{{- if .server.gpu.enabled -}}
{{- $tolerations = concat $tolerations .server.gpu.tolerations -}}
{{- end -}}
{{- with $tolerations -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.pod.topologySpreadConstraints: `topologySpreadConstraints`, as YAML, each without
a `labelSelector` given the server's selector labels; empty when there are none.
Usage: {{- with include "mcp-servers.pod.topologySpreadConstraints" (dict "server" $s "root" $) }}
      topologySpreadConstraints: {{- . | nindent 8 }}
      {{- end }}
*/}}
{{- define "mcp-servers.pod.topologySpreadConstraints" -}}
{{- $constraints := list -}}
{{- range .server.topologySpreadConstraints -}}
{{- $constraints = append $constraints (merge (dict) . (dict "labelSelector" (dict "matchLabels" $.server.selectorLabels))) -}}
{{- end -}}
{{- with $constraints -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.pod.containers: the pod's containers, as YAML: the one server container, with
- the image (mcp-servers.images.server) and `command`/`args` when set;
- the port `http`, on `port`;
- environment variables from the Secrets (mcp-servers.env.secretNames), the ConfigMap's
  variables one by one (`.server.configEnv`), in `auth.mode` token MCP_AUTH_TOKEN from its
  Secret (mcp-servers.auth.tokenRef), MCP_REQUEST_STATE_KEYS from its Secret
  (mcp-servers.requestState.secretName), the `valueFrom` ones (mcp-servers.env.valueFrom) and
  those of `tracing` that need the pod (mcp-servers.tracing.containerEnv);
- resources (mcp-servers.container.resources), security context
  (mcp-servers.container.securityContext) and the probes (mcp-servers.probe);
- a preStop sleep of `drain.preStopSleepSeconds` unless that is 0;
- the mounts of the pod's volumes (mcp-servers.container.volumeMounts).
Usage: containers: {{- include "mcp-servers.pod.containers" (dict "server" $s "root" $) | nindent 8 }}
*/}}
{{- define "mcp-servers.pod.containers" -}}
{{- $s := .server -}}
- name: server
  image: {{ include "mcp-servers.images.server" . | quote }}
  imagePullPolicy: {{ $s.image.pullPolicy }}
  {{- with $s.command }}
  command: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.args }}
  args: {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: http
      containerPort: {{ int $s.port }}
      protocol: TCP
    - name: metrics
      containerPort: {{ int $s.metrics.port }}
      protocol: TCP
  {{- with include "mcp-servers.env.secretNames" . | fromJsonArray }}
  envFrom:
    {{- range . }}
    - secretRef:
        name: {{ . }}
    {{- end }}
  {{- end }}
  # Key by key, not envFrom: the ConfigMap also holds server-config.json, which is no
  # environment variable name.
  env:
    {{- range $name := keys $s.configEnv | sortAlpha }}
    - name: {{ $name }}
      valueFrom:
        configMapKeyRef:
          name: {{ $s.fullname }}
          key: {{ $name }}
    {{- end }}
    {{- with include "mcp-servers.auth.tokenRef" $s }}
    # auth.mode token: the one shared token, only ever from its Secret.
    - name: MCP_AUTH_TOKEN
      valueFrom:
        secretKeyRef: {{- fromJson . | toYaml | nindent 10 }}
    {{- end }}
    # requestState: every replica seals and opens a tool's ask for input under the same keys.
    - name: MCP_REQUEST_STATE_KEYS
      valueFrom:
        secretKeyRef:
          name: {{ include "mcp-servers.requestState.secretName" $s }}
          key: {{ $s.requestState.key }}
    {{- with include "mcp-servers.env.valueFrom" . }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with include "mcp-servers.tracing.containerEnv" $s }}
    # tracing: the pod's identity for OTEL_RESOURCE_ATTRIBUTES, and the OTLP headers' Secret.
    {{- . | nindent 4 }}
    {{- end }}
  resources: {{- include "mcp-servers.container.resources" . | nindent 4 }}
  securityContext: {{- include "mcp-servers.container.securityContext" . | nindent 4 }}
  livenessProbe: {{- toYaml $s.livenessProbe | nindent 4 }}
  readinessProbe: {{- toYaml $s.readinessProbe | nindent 4 }}
  startupProbe: {{- toYaml $s.startupProbe | nindent 4 }}
  {{- if $s.drain.preStopSleepSeconds }}
  lifecycle:
    preStop:
      # Endpoints removal races SIGTERM: keep serving until the Service stops routing here.
      exec:
        command: ["sleep", {{ int $s.drain.preStopSleepSeconds | toString | quote }}]
  {{- end }}
  volumeMounts: {{- include "mcp-servers.container.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/*
mcp-servers.container.resources: the server container's resources, as YAML: `resources`, plus
a limit of `gpu.count` on `gpu.resourceName` when the GPU is enabled.
Usage: resources: {{- include "mcp-servers.container.resources" (dict "server" $s "root" $) | nindent 4 }}
*/}}
{{- define "mcp-servers.container.resources" -}}
{{- $resources := deepCopy .server.resources -}}
{{- if .server.gpu.enabled -}}
{{- $_ := set $resources.limits .server.gpu.resourceName (int .server.gpu.count) -}}
{{- end -}}
{{- toYaml $resources -}}
{{- end -}}

{{/*
mcp-servers.container.securityContext: the security context of the server container (and of
the helm test container), as YAML: `securityContext` (restricted unless `allowPrivileged`,
mcp-servers.validate.podSecurity).
Usage: securityContext: {{- include "mcp-servers.container.securityContext" (dict "server" $s "root" $) | nindent 4 }}
*/}}
{{- define "mcp-servers.container.securityContext" -}}
{{- toYaml .server.securityContext -}}
{{- end -}}

{{/*
mcp-servers.container.volumeMounts: the server container's mounts of mcp-servers.pod.volumes,
as YAML: a writable /tmp (the root filesystem is read-only), server-config.json in /etc/mcp and
the inline `code` in /opt/mcp/code, read-only, then each `persistence` entry at its `mountPath`
(read-only with `readOnly`), in identifier order, but for those with `mountInServer: false`.
Usage: volumeMounts: {{- include "mcp-servers.container.volumeMounts" (dict "server" $s "root" $) | nindent 4 }}
*/}}
{{- define "mcp-servers.container.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: /etc/mcp
  readOnly: true
{{- if .server.code }}
- name: code
  mountPath: /opt/mcp/code
  readOnly: true
{{- end }}
{{- range $id := keys .server.volumes | sortAlpha }}
{{- $v := get $.server.volumes $id }}
{{- if $v.mountInServer }}
- name: {{ $id }}
  mountPath: {{ $v.mountPath | quote }}
  {{- if $v.readOnly }}
  readOnly: true
  {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
mcp-servers.pod.volumes: the pod's volumes, as YAML: an emptyDir for /tmp, server-config.json
from the ConfigMap `<fullname>` and, with inline `code`, the ConfigMap `<fullname>-code`; then
one volume per `persistence` entry, named by its identifier: the claim `<fullname>-<identifier>`
(templates/persistentvolumeclaim.yaml), the existing claim `claimName`, an emptyDir with
`medium` and `sizeLimit`, or the ConfigMap or Secret `name`.
Usage: volumes: {{- include "mcp-servers.pod.volumes" (dict "server" $s "root" $) | nindent 8 }}
*/}}
{{- define "mcp-servers.pod.volumes" -}}
- name: tmp
  emptyDir: {}
- name: config
  configMap:
    name: {{ .server.fullname }}
    items:
      - key: server-config.json
        path: server-config.json
{{- if .server.code }}
- name: code
  configMap:
    name: {{ .server.fullname }}-code
{{- end }}
{{- range $id := keys .server.volumes | sortAlpha }}
{{- $v := get $.server.volumes $id }}
- name: {{ $id }}
  {{- if eq $v.type "emptyDir" }}
  emptyDir: {{- if $v.emptyDir }}{{ toYaml $v.emptyDir | nindent 4 }}{{ else }} {}{{ end }}
  {{- else if has $v.type (list "configMap" "secret") }}
  {{ $v.type }}: {{- get $v $v.type | toYaml | nindent 4 }}
  {{- else }}
  persistentVolumeClaim:
    claimName: {{ $v.claimName }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
mcp-servers.extraContainers: the pod's init containers as a JSON list: each enabled `sidecars`
entry, with `restartPolicy: Always` (a native sidecar), then each enabled `initContainers`
entry, each kind in identifier order, named by its identifier; the image from its `image`
(mcp-servers.images.reference), the security context from
mcp-servers.extraContainers.securityContext, and the Container fields the entry sets.
mcp-servers.validate.extraContainers has checked them.
Usage: {{ include "mcp-servers.extraContainers" (dict "server" $s "root" $) | fromJsonArray }}
*/}}
{{- define "mcp-servers.extraContainers" -}}
{{- $s := .server -}}
{{- $containers := list -}}
{{- range $kind := list "sidecars" "initContainers" -}}
{{- $entries := get $s $kind | default dict -}}
{{- range $id := keys $entries | sortAlpha -}}
{{- $entry := get $entries $id -}}
{{- if and (kindIs "map" $entry) (dig "enabled" true $entry) -}}
{{- $image := $entry.image -}}
{{- $reference := include "mcp-servers.images.reference" (dict "image" $image "repository" $image.repository "tag" (toString ($image.tag | default "")) "global" $.root.Values.global) -}}
{{- $container := dict "name" $id "image" $reference "imagePullPolicy" ($image.pullPolicy | default "IfNotPresent") -}}
{{- if eq $kind "sidecars" -}}
{{- $_ := set $container "restartPolicy" "Always" -}}
{{- end -}}
{{- range $field := list "command" "args" "workingDir" "env" "envFrom" "ports" "resources" "volumeMounts" "livenessProbe" "readinessProbe" "startupProbe" "lifecycle" -}}
{{- with get $entry $field -}}
{{- $_ := set $container $field . -}}
{{- end -}}
{{- end -}}
{{- $_ := set $container "securityContext" (include "mcp-servers.extraContainers.securityContext" (dict "server" $s "entry" $entry) | fromJson) -}}
{{- $containers = append $containers $container -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $containers -}}
{{- end -}}

{{/*
mcp-servers.sidecarMetrics: the metrics ports of the server's enabled `sidecars` as a JSON list,
in identifier order, each `{name, port, path}` (TCP): the port's name and number from the
sidecar's `ports`, and its `metrics.path` (`/metrics`). The Service, the ServiceMonitor and the
NetworkPolicy open them while `metrics.serviceMonitor.enabled`.
mcp-servers.validate.sidecarMetrics has checked that each names a port of its sidecar.
Usage: {{ include "mcp-servers.sidecarMetrics" $s | fromJsonArray }}
*/}}
{{- define "mcp-servers.sidecarMetrics" -}}
{{- $ports := list -}}
{{- $entries := .sidecars | default dict -}}
{{- range $id := keys $entries | sortAlpha -}}
{{- $entry := get $entries $id -}}
{{- if and (kindIs "map" $entry) (dig "enabled" true $entry) $entry.metrics -}}
{{- range $p := $entry.ports -}}
{{- if eq (toString $p.name) $entry.metrics.port -}}
{{- $ports = append $ports (dict "name" $p.name "port" (int $p.containerPort) "path" ($entry.metrics.path | default "/metrics")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $ports -}}
{{- end -}}

{{/*
mcp-servers.extraContainers.securityContext: the security context of a `sidecars` or
`initContainers` ENTRY as JSON: the server's `securityContext` with the entry's own fields over
it, so another image runs as restricted as the server unless it says otherwise (and the checks
of mcp-servers.validate.extraContainers allow it).
Usage: {{ include "mcp-servers.extraContainers.securityContext" (dict "server" $s "entry" ENTRY) | fromJson }}
*/}}
{{- define "mcp-servers.extraContainers.securityContext" -}}
{{- toJson (mustMergeOverwrite (deepCopy (.server.securityContext | default dict)) (deepCopy (.entry.securityContext | default dict))) -}}
{{- end -}}
