{{/*
Image references. mcp-servers.validate.images checks the parts at load time.
*/}}

{{/*
mcp-servers.images.repository: the repository of the server image: `image.repository`, or the
runtime image `mcp-servers/runtime` for a server whose `code` lives in the values; empty when
neither is set (mcp-servers.validate.images refuses that).
Usage: {{ include "mcp-servers.images.repository" (dict "server" $s "root" $) }}
*/}}
{{- define "mcp-servers.images.repository" -}}
{{- if .server.image.repository -}}
{{- .server.image.repository -}}
{{- else if .server.code -}}
mcp-servers/runtime
{{- end -}}
{{- end -}}

{{/*
mcp-servers.images.tag: the tag of an image (`image` is a server's `image` or `test.image`):
its `tag`, else the chart's appVersion.
Usage: {{ include "mcp-servers.images.tag" (dict "image" $s.image "root" $) }}
*/}}
{{- define "mcp-servers.images.tag" -}}
{{- .image.tag | default .root.Chart.AppVersion | toString -}}
{{- end -}}

{{/*
mcp-servers.images.ownRegistry: the registry a repository names itself (`ghcr.io` of
`ghcr.io/acme/todo`), by Docker's rule: a first path component with a `.` or `:`, or
`localhost`; empty for a repository that names none (`mcp-servers/todo`).
Usage: {{ include "mcp-servers.images.ownRegistry" REPOSITORY }}
*/}}
{{- define "mcp-servers.images.ownRegistry" -}}
{{- $parts := splitList "/" (toString .) -}}
{{- $first := first $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- $first -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.images.reference: `[registry/]repository:tag`, or `[registry/]repository@digest`
when a digest pins it (`image.digest`, else the repository's in `global.imageDigests`); the
registry is `image.registry`, else `global.imageRegistry`, and none for a repository that names
its own (mcp-servers.images.ownRegistry).
Usage: {{ include "mcp-servers.images.reference" (dict "image" $s.image "repository" REPOSITORY "tag" TAG "global" $.Values.global) }}
*/}}
{{- define "mcp-servers.images.reference" -}}
{{- $registry := .image.registry | default .global.imageRegistry -}}
{{- if include "mcp-servers.images.ownRegistry" .repository -}}
{{- $registry = "" -}}
{{- end -}}
{{- $digest := .image.digest | default (get (.global.imageDigests | default dict) .repository) -}}
{{- $ref := .repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" (trimSuffix "/" $registry) $ref -}}
{{- end -}}
{{- if $digest -}}
{{- printf "%s@%s" $ref $digest -}}
{{- else -}}
{{- printf "%s:%s" $ref .tag -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.images.server: the image the server container runs (mcp-servers.images.repository,
mcp-servers.images.tag, mcp-servers.images.reference).
Usage: image: {{ include "mcp-servers.images.server" (dict "server" $s "root" $) | quote }}
*/}}
{{- define "mcp-servers.images.server" -}}
{{- $image := .server.image -}}
{{- include "mcp-servers.images.reference" (dict "image" $image "repository" (include "mcp-servers.images.repository" .) "tag" (include "mcp-servers.images.tag" (dict "image" $image "root" .root)) "global" .root.Values.global) -}}
{{- end -}}

{{/*
mcp-servers.images.test: the image of the server's helm test pod (`test.image`).
Usage: image: {{ include "mcp-servers.images.test" (dict "server" $s "root" $) | quote }}
*/}}
{{- define "mcp-servers.images.test" -}}
{{- $image := .server.test.image -}}
{{- include "mcp-servers.images.reference" (dict "image" $image "repository" $image.repository "tag" (include "mcp-servers.images.tag" (dict "image" $image "root" .root)) "global" .root.Values.global) -}}
{{- end -}}
