{{/*
The chart's logic, in small named defines. Every template starts with mcp-servers.load, which
computes each enabled server once per render (mcp-servers.server) into `.mcpServers`; each
template then renders one kind of object per server from those, reading top to bottom with
includes for the pieces:

  _helpers.tpl   the fleet and the computed server: mcp-servers.load, .server, .probe,
                 .names.enabled, .replicas.max, .persistence, .persistence.singleWriter
  _names.tpl     identity: object name, labels, metadata, version, Service URL, ServiceAccount
  _images.tpl    image references (registry, repository, tag or digest)
  _env.tpl       the ConfigMap (server-config.json and the env the chart derives), secret env,
                 the checksums that roll the pods
  _pod.tpl       the Deployment's pod spec pieces: labels, annotations, security contexts,
                 scheduling, the server container (env, probes, resources), volumes (the
                 chart's own and `persistence`)
  _validate.tpl  the checks a schema cannot express; each fails naming the values key
  _gateway.tpl   `gateway.enabled`: the gateway's values built from the other servers, its checks
  _auth.tpl      `auth`: the runtime's authorization environment, the token's secretKeyRef,
                 the issuer's JWKS port for the NetworkPolicy, what NOTES tells clients
  _peers.tpl     `peers`: the peers' URLs, the NetworkPolicy rules of the calls, their checks
  _infisical.tpl `infisicalSecret`: the InfisicalSecret's spec and the Secret it manages, its
                 checks
  _tracing.tpl   `tracing`: the OTEL_* environment, the pod's resource attributes, the
                 NetworkPolicy's way out to the collector, its checks

Unless its usage line says otherwise a define takes (dict "server" $s "root" $): $s is a computed
server (an entry of `.mcpServers`, or the dict mcp-servers.server is filling) and $ the chart's
root context. `include` returns text: a define that computes a map or a list returns it as JSON.
*/}}

{{/*
mcp-servers.names.enabled: the enabled server names as a JSON list, sorted, so every template
renders servers in the same order and a disabled server renders nothing anywhere.
Usage: {{- range $name := include "mcp-servers.names.enabled" $ | fromJsonArray }}
*/}}
{{- define "mcp-servers.names.enabled" -}}
{{- $names := list -}}
{{- range $name := keys .Values.servers | sortAlpha -}}
{{- if dig "enabled" $.Values.defaults.enabled (index $.Values.servers $name) -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
mcp-servers.load: sets `.mcpServers` on the root context to a map name -> computed server (see
mcp-servers.server), checking across servers that object names and node ports are unique
(mcp-servers.validate.unique), and with `gateway.enabled` one more, `gateway`, built from the
others (mcp-servers.gateway.entry). Then each server's `peers` are checked against the whole
fleet (mcp-servers.validate.peers) and their URLs added to its `configEnv`
(mcp-servers.peers.env): a peer's name, port and labels are known only now. Every template
starts with it, so a bad value fails the whole render. Templates of one chart share the root context, so the fleet is computed once per
render, not once per template.
Usage: {{- include "mcp-servers.load" . }}
*/}}
{{- define "mcp-servers.load" -}}
{{- if not (hasKey . "mcpServers") -}}
{{- $all := dict -}}
{{- $seen := dict "fullnames" (dict) "nodePorts" (dict) "hosts" (dict) "serviceAccounts" (dict) "metricsServices" (dict) -}}
{{- range $name := include "mcp-servers.names.enabled" . | fromJsonArray -}}
{{- $s := dict -}}
{{- $_ := include "mcp-servers.server" (dict "server" $s "root" $ "name" $name) -}}
{{- $_ = include "mcp-servers.validate.unique" (dict "server" $s "seen" $seen) -}}
{{- $_ = set $all $name $s -}}
{{- end -}}
{{- if .Values.gateway.enabled -}}
{{- $_ := include "mcp-servers.validate.gateway" (dict "servers" $all "root" $) -}}
{{- $s := dict -}}
{{- $raw := include "mcp-servers.gateway.entry" (dict "servers" $all "root" $) | fromJson -}}
{{- $_ = include "mcp-servers.server" (dict "server" $s "root" $ "name" "gateway" "raw" $raw "key" "gateway.server") -}}
{{- $_ = include "mcp-servers.validate.unique" (dict "server" $s "seen" $seen) -}}
{{- $_ = set $all "gateway" $s -}}
{{- end -}}
{{- range $name := keys $all | sortAlpha -}}
{{- $s := get $all $name -}}
{{- $_ := include "mcp-servers.validate.peers" (dict "server" $s "servers" $all "root" $) -}}
{{- $_ = set $s "configEnv" (merge (include "mcp-servers.peers.env" (dict "server" $s "servers" $all) | fromJson) $s.configEnv) -}}
{{- end -}}
{{- $_ := set . "mcpServers" $all -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.server: fills the empty dict `.server` with server NAME, computed once per render:
its values (`defaults` deep-merged under `servers.NAME`; an `env` entry or a probe handler,
its sidecars' too, the server sets replaces the default's, see mcp-servers.probe), checked by
the mcp-servers.validate.* defines,
plus the fields more than one template (or a check) needs, each from one small define:
  name, key          NAME and `servers.NAME` (the prefix of every error message)
  fullname           mcp-servers.names.fullname
  version            mcp-servers.version (`version`, else the image tag)
  selectorLabels     mcp-servers.labels.selector
  labels             mcp-servers.labels.standard
  url                mcp-servers.url
  externalUrl        mcp-servers.url.external (empty when not exposed)
  configEnv          mcp-servers.env.config (the ConfigMap's environment variables; the
                     peers' URLs join later, in mcp-servers.load)
  volumes            mcp-servers.persistence (the enabled `persistence` entries, filled in)
  extraContainers    mcp-servers.extraContainers (`sidecars`, then `initContainers`, as the pod
                     lists them)
  sidecarMetrics     mcp-servers.sidecarMetrics (the sidecars' metrics ports to scrape)
  serviceAccountName mcp-servers.serviceAccountName
Everything else a template derives in place, with the define named there. The checks run in a
fixed order, so values with several mistakes always report the same one.
Usage: {{- $_ := include "mcp-servers.server" (dict "server" $s "root" $ "name" NAME ["raw" RAW "key" KEY]) -}}
(RAW instead of `servers.NAME`, KEY instead of `servers.NAME` in error messages: the gateway's)
*/}}
{{- define "mcp-servers.server" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $s := .server -}}
{{- $ctx := dict "server" $s "root" $root -}}
{{- $_ := include "mcp-servers.validate.name" $name -}}
{{- $raw := .raw | default (index $root.Values.servers $name) -}}
{{- $_ = mustMergeOverwrite $s (deepCopy $root.Values.defaults) (deepCopy $raw) -}}
{{- $_ = set $s "name" $name -}}
{{- $_ = set $s "key" (.key | default (printf "servers.%s" $name)) -}}

{{- /* An `env` entry is one value: the server's replaces the default's (merged, a valueFrom
could end up with two sources, which Kubernetes refuses). */ -}}
{{- range $envName, $value := $raw.env | default dict -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ = set $s.env $envName (deepCopy $value) -}}
{{- end -}}
{{- end -}}
{{- $_ = include "mcp-servers.validate.probeHandlers" (dict "server" $s "raw" $raw) -}}
{{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" -}}
{{- if kindIs "map" (get $s $probe) -}}
{{- $_ = set $s $probe (include "mcp-servers.probe" (dict "server" $s "raw" $raw "probe" $probe) | fromJson) -}}
{{- end -}}
{{- end -}}
{{- /* So do a sidecar's probes: a handler its server sets replaces the one in `defaults`. */ -}}
{{- range $id, $own := $raw.sidecars | default dict -}}
{{- $entry := get ($s.sidecars | default dict) $id -}}
{{- if and (kindIs "map" $own) (kindIs "map" $entry) -}}
{{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" -}}
{{- if kindIs "map" (get $entry $probe) -}}
{{- $_ = set $entry $probe (include "mcp-servers.probe" (dict "server" $entry "raw" $own "probe" $probe) | fromJson) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ = include "mcp-servers.validate.startupProbe" $s -}}
{{- $_ = include "mcp-servers.validate.probePorts" $s -}}
{{- $_ = include "mcp-servers.validate.metricsPort" $s -}}
{{- $_ = include "mcp-servers.validate.serviceMonitor" $s -}}

{{- $_ = set $s "fullname" (include "mcp-servers.names.fullname" $ctx) -}}
{{- $_ = include "mcp-servers.validate.fullname" $s -}}

{{- $_ = include "mcp-servers.validate.images" $ctx -}}
{{- $_ = set $s "version" (include "mcp-servers.version" $ctx) -}}
{{- $_ = set $s "selectorLabels" (include "mcp-servers.labels.selector" $ctx | fromJson) -}}
{{- $_ = set $s "labels" (include "mcp-servers.labels.standard" $ctx | fromJson) -}}

{{- $_ = include "mcp-servers.validate.replicas" $s -}}
{{- $_ = include "mcp-servers.validate.disruptionBudget" $s -}}
{{- $_ = include "mcp-servers.validate.networkPolicy" $s -}}
{{- $_ = include "mcp-servers.validate.resources" (dict "key" $s.key "resources" $s.resources) -}}
{{- $_ = include "mcp-servers.validate.podSecurity" (dict "server" $s "raw" $raw) -}}
{{- $_ = include "mcp-servers.validate.drain" $s -}}
{{- $_ = include "mcp-servers.validate.service" $s -}}
{{- $_ = include "mcp-servers.validate.serviceKubeVersion" $ctx -}}
{{- $_ = include "mcp-servers.validate.exposure" $s -}}

{{- $_ = set $s "url" (include "mcp-servers.url" $ctx) -}}
{{- $_ = set $s "externalUrl" (include "mcp-servers.url.external" $s) -}}
{{- $_ = include "mcp-servers.validate.auth" (dict "server" $s "raw" $raw "root" $root) -}}
{{- $_ = include "mcp-servers.validate.tracing" $s -}}
{{- $_ = include "mcp-servers.validate.code" $s -}}
{{- $chartEnv := include "mcp-servers.env.chart" $ctx | fromJson -}}
{{- $_ = include "mcp-servers.validate.env" (dict "server" $s "chartEnv" $chartEnv) -}}
{{- $_ = set $s "configEnv" (include "mcp-servers.env.config" (dict "server" $s "chartEnv" $chartEnv) | fromJson) -}}
{{- $_ = include "mcp-servers.validate.secrets" (dict "server" $s "chartEnv" $chartEnv) -}}
{{- $_ = include "mcp-servers.validate.secretEnv" $s -}}
{{- $_ = include "mcp-servers.validate.requestState" $s -}}
{{- $_ = include "mcp-servers.validate.infisical" $s -}}
{{- $_ = include "mcp-servers.validate.persistence" (dict "server" $s "root" $root) -}}
{{- $_ = set $s "volumes" (include "mcp-servers.persistence" $ctx | fromJson) -}}
{{- $_ = include "mcp-servers.validate.mountPaths" $s -}}
{{- $_ = include "mcp-servers.validate.singleWriter" $s -}}
{{- $_ = include "mcp-servers.validate.rollout" $s -}}
{{- $_ = include "mcp-servers.validate.dns" $s -}}
{{- $_ = include "mcp-servers.validate.extraContainers" $ctx -}}
{{- $_ = set $s "extraContainers" (include "mcp-servers.extraContainers" $ctx | fromJsonArray) -}}
{{- $_ = set $s "sidecarMetrics" (include "mcp-servers.sidecarMetrics" $s | fromJsonArray) -}}
{{- $_ = set $s "serviceAccountName" (include "mcp-servers.serviceAccountName" $ctx) -}}
{{- end -}}

{{/*
mcp-servers.probe: the server's PROBE (livenessProbe, readinessProbe or startupProbe) as JSON:
the merged probe, except that a handler (httpGet, tcpSocket, exec, grpc) the server sets itself
replaces the default's, whose timings stay (two handlers would be invalid). The same for a
sidecar's: SERVER its merged entry, RAW the server's own entry for it.
mcp-servers.validate.probeHandlers has checked that the server sets at most one.
Usage: {{ include "mcp-servers.probe" (dict "server" $s "raw" RAW "probe" "livenessProbe") | fromJson }}
(RAW: the server's own values, before `defaults` were merged under them)
*/}}
{{- define "mcp-servers.probe" -}}
{{- $merged := get .server .probe -}}
{{- $own := pick (get .raw .probe | default dict) "httpGet" "tcpSocket" "exec" "grpc" -}}
{{- if $own -}}
{{- $merged = mustMergeOverwrite (omit $merged "httpGet" "tcpSocket" "exec" "grpc") $own -}}
{{- end -}}
{{- toJson $merged -}}
{{- end -}}

{{/*
mcp-servers.replicas.max: the most pods the server can run (`autoscaling.maxReplicas` with an
autoscaler, else `replicas`); with one, a PodDisruptionBudget would block node drains forever.
Usage: {{ include "mcp-servers.replicas.max" (dict "server" $s "root" $) | int }}
*/}}
{{- define "mcp-servers.replicas.max" -}}
{{- ternary .server.autoscaling.maxReplicas .server.replicas .server.autoscaling.enabled | int -}}
{{- end -}}

{{/*
mcp-servers.persistence: the server's enabled `persistence` entries as JSON, identifier -> the
entry with its defaults filled in (mcp-servers.validate.persistence has checked them):
  every type             type, mountPath (cleaned: `/data/` is `/data`), readOnly (false),
                         mountInServer (true)
  persistentVolumeClaim  claimName `<fullname>-<identifier>`, size (1Gi), accessMode
                         (ReadWriteOnce), storageClass (""), retain (false), annotations
  existingClaim          claimName (rendered as a template), accessMode (ReadWriteOnce)
  emptyDir               medium, sizeLimit (when set)
  configMap, secret      the volume source: name (rendered as a template), items,
                         defaultMode, optional (when set); readOnly (true)
An entry that is not a map, or sets `enabled: false`, is left out.
Usage: {{ include "mcp-servers.persistence" (dict "server" $s "root" $) | fromJson }}
*/}}
{{- define "mcp-servers.persistence" -}}
{{- $entries := dict -}}
{{- range $id, $entry := .server.persistence | default dict -}}
{{- if and (kindIs "map" $entry) (dig "enabled" true $entry) -}}
{{- $type := toString ($entry.type | default "") -}}
{{- $v := dict "type" $type "mountPath" (clean (toString $entry.mountPath)) "readOnly" (dig "readOnly" false $entry) "mountInServer" (dig "mountInServer" true $entry) -}}
{{- if eq $type "persistentVolumeClaim" -}}
{{- $_ := set $v "claimName" (printf "%s-%s" $.server.fullname $id) -}}
{{- $_ = set $v "size" ($entry.size | default "1Gi") -}}
{{- $_ = set $v "accessMode" ($entry.accessMode | default "ReadWriteOnce") -}}
{{- $_ = set $v "storageClass" ($entry.storageClass | default "") -}}
{{- $_ = set $v "retain" (dig "retain" false $entry) -}}
{{- $_ = set $v "annotations" ($entry.annotations | default dict) -}}
{{- else if eq $type "existingClaim" -}}
{{- $_ := set $v "claimName" (tpl (toString $entry.claimName) $.root) -}}
{{- $_ = set $v "accessMode" ($entry.accessMode | default "ReadWriteOnce") -}}
{{- else if has $type (list "configMap" "secret") -}}
{{- $source := dict (ternary "name" "secretName" (eq $type "configMap")) (tpl (toString $entry.name) $.root) -}}
{{- range $field := list "items" "defaultMode" "optional" -}}
{{- if hasKey $entry $field -}}
{{- $_ := set $source $field (get $entry $field) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $v $type $source -}}
{{- $_ = set $v "readOnly" true -}}
{{- else -}}
{{- $source := dict -}}
{{- with $entry.medium -}}
{{- $_ := set $source "medium" . -}}
{{- end -}}
{{- if not (kindIs "invalid" $entry.sizeLimit) -}}
{{- $_ := set $source "sizeLimit" $entry.sizeLimit -}}
{{- end -}}
{{- $_ := set $v "emptyDir" $source -}}
{{- end -}}
{{- $_ := set $entries $id $v -}}
{{- end -}}
{{- end -}}
{{- toJson $entries -}}
{{- end -}}

{{/*
mcp-servers.persistence.singleWriter: the identifier of the server's first claim (in
identifier order) with one writer, accessMode ReadWriteOnce or ReadWriteOncePod; empty when
there is none. Such a server runs one pod and replaces it with the `Recreate` strategy (checked
by mcp-servers.validate.singleWriter, applied in templates/deployment.yaml). `.server.volumes`
must be set.
Usage: {{- with include "mcp-servers.persistence.singleWriter" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.persistence.singleWriter" -}}
{{- $writers := list -}}
{{- range $id := keys .server.volumes | sortAlpha -}}
{{- $v := get $.server.volumes $id -}}
{{- if and (has $v.type (list "persistentVolumeClaim" "existingClaim")) (has $v.accessMode (list "ReadWriteOnce" "ReadWriteOncePod")) -}}
{{- $writers = append $writers $id -}}
{{- end -}}
{{- end -}}
{{- $writers | first | default "" -}}
{{- end -}}

{{/*
mcp-servers.extraObject: entry INDEX of `extraObjects` (an object, or a string of YAML),
rendered as a template against the chart's root context, with `global.commonLabels` and
`global.commonAnnotations` under its own labels and annotations, as YAML; fails naming the entry
when it is not one Kubernetes object with `apiVersion`, `kind` and `metadata.name`.
Usage: {{ include "mcp-servers.extraObject" (dict "object" OBJECT "index" INDEX "root" $) }}
*/}}
{{- define "mcp-servers.extraObject" -}}
{{- $text := ternary .object (toYaml .object) (kindIs "string" .object) -}}
{{- $rendered := tpl $text .root | fromYaml -}}
{{- if hasKey $rendered "Error" -}}
{{- fail (printf "extraObjects[%d]: not a YAML object once rendered: %s" .index $rendered.Error) -}}
{{- end -}}
{{- if not (and $rendered.apiVersion $rendered.kind (dig "metadata" "name" "" $rendered)) -}}
{{- fail (printf "extraObjects[%d]: apiVersion, kind and metadata.name are required (it has %s)" .index (keys $rendered | sortAlpha | join ", " | default "nothing")) -}}
{{- end -}}
{{- with .root.Values.global.commonLabels -}}
{{- $_ := set $rendered.metadata "labels" (merge (dict) ($rendered.metadata.labels | default dict) .) -}}
{{- end -}}
{{- with .root.Values.global.commonAnnotations -}}
{{- $_ := set $rendered.metadata "annotations" (merge (dict) ($rendered.metadata.annotations | default dict) .) -}}
{{- end -}}
{{- toYaml $rendered -}}
{{- end -}}
