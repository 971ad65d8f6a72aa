{{/*
Secrets from Infisical (`infisicalSecret`): an InfisicalSecret (secrets.infisical.com/v1alpha1)
that the Infisical secrets operator turns into a Secret of the release namespace, whose keys
the pods take as environment variables, as they do the ExternalSecret's or `existingSecret`'s.
mcp-servers.validate.infisical checks the values first.
*/}}

{{/*
mcp-servers.infisical.secretName: the Secret the operator writes and the pods read,
`infisicalSecret.managedSecretReference.secretName`, else the server's fullname (the name the
ExternalSecret's Secret has, so switching sources keeps the pods' Secret name).
Usage: {{ include "mcp-servers.infisical.secretName" SERVER }}
*/}}
{{- define "mcp-servers.infisical.secretName" -}}
{{- .infisicalSecret.managedSecretReference.secretName | default .fullname -}}
{{- end -}}

{{/*
mcp-servers.infisical.authentication: the InfisicalSecret's `authentication`, as JSON: the one
method the values choose (mcp-servers.validate.infisical has checked there is exactly one),
Universal Auth with `credentialsRef` or Kubernetes Auth with `identityId` and
`serviceAccountRef` (default the server's ServiceAccount), each with the `secretsScope`.
Namespaces left empty are the release's.
Usage: {{ include "mcp-servers.infisical.authentication" (dict "server" $s "root" $) | fromJson }}
*/}}
{{- define "mcp-servers.infisical.authentication" -}}
{{- $values := .server.infisicalSecret -}}
{{- $namespace := .root.Release.Namespace -}}
{{- $scope := pick $values.secretsScope "projectSlug" "envSlug" "secretsPath" "recursive" -}}
{{- $universal := $values.authentication.universalAuth.credentialsRef -}}
{{- if $universal.secretName -}}
{{- $ref := dict "secretName" $universal.secretName "secretNamespace" ($universal.secretNamespace | default $namespace) -}}
{{- dict "universalAuth" (dict "credentialsRef" $ref "secretsScope" $scope) | toJson -}}
{{- else -}}
{{- $kubernetes := $values.authentication.kubernetesAuth -}}
{{- $account := $kubernetes.serviceAccountRef -}}
{{- $ref := dict "name" ($account.name | default .server.serviceAccountName) "namespace" ($account.namespace | default $namespace) -}}
{{- dict "kubernetesAuth" (dict "identityId" $kubernetes.identityId "serviceAccountRef" $ref "secretsScope" $scope) | toJson -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.infisical.spec: the InfisicalSecret's spec, as YAML: `hostAPI`, `resyncInterval`,
the authentication (mcp-servers.infisical.authentication) and the managed Secret
(mcp-servers.infisical.secretName), always in the release namespace: pods read Secrets of their
own namespace only, and the operator refuses an `Owner` reference across namespaces.
Usage: spec: {{- include "mcp-servers.infisical.spec" (dict "server" $s "root" $) | nindent 2 }}
*/}}
{{- define "mcp-servers.infisical.spec" -}}
{{- $values := .server.infisicalSecret -}}
{{- $managed := dict
  "secretName" (include "mcp-servers.infisical.secretName" .server)
  "secretNamespace" .root.Release.Namespace
  "creationPolicy" $values.managedSecretReference.creationPolicy -}}
{{- toYaml (dict
  "hostAPI" $values.hostAPI
  "resyncInterval" (int $values.resyncInterval)
  "authentication" (include "mcp-servers.infisical.authentication" . | fromJson)
  "managedSecretReference" $managed) -}}
{{- end -}}

{{/*
mcp-servers.validate.infisical: with `infisicalSecret.enabled`, the InfisicalSecret is the
server's one secret source (no `secrets`, whose ExternalSecret would write the same Secret, and
no `existingSecret`); it logs in one way (Universal Auth's `credentialsRef.secretName` or
Kubernetes Auth's `identityId`, not both: the operator expects one method); it names the project
and environment (the operator requires both) and an http(s) `hostAPI`.
Usage: {{- $_ := include "mcp-servers.validate.infisical" SERVER -}}
*/}}
{{- define "mcp-servers.validate.infisical" -}}
{{- $s := . -}}
{{- $key := $s.key -}}
{{- $values := $s.infisicalSecret -}}
{{- if $values.enabled -}}
{{- $at := printf "%s.infisicalSecret" $key -}}
{{- if $s.secrets -}}
{{- fail (printf "%s.enabled: %s.secrets is set too, and its ExternalSecret would write the Secret the pods read; a server takes its secrets from one source: remove %s.secrets or set %s.enabled: false" $at $key $key $at) -}}
{{- end -}}
{{- if $s.existingSecret -}}
{{- fail (printf "%s.enabled: %s.existingSecret is set too; a server takes its secrets from one source: remove %s.existingSecret or set %s.enabled: false" $at $key $key $at) -}}
{{- end -}}
{{- $universal := $values.authentication.universalAuth.credentialsRef.secretName -}}
{{- $kubernetes := $values.authentication.kubernetesAuth.identityId -}}
{{- if and $universal $kubernetes -}}
{{- fail (printf "%s.authentication: universalAuth.credentialsRef.secretName and kubernetesAuth.identityId are both set; the operator logs in one way, so set only one" $at) -}}
{{- end -}}
{{- if not (or $universal $kubernetes) -}}
{{- fail (printf "%s.authentication: required when %s.enabled; set universalAuth.credentialsRef.secretName (a Secret with the machine identity's clientId and clientSecret) or kubernetesAuth.identityId (Kubernetes Auth)" $at $at) -}}
{{- end -}}
{{- $what := dict "projectSlug" "the slug of the Infisical project" "envSlug" "the slug of the project's environment, e.g. prod" -}}
{{- range $field := list "projectSlug" "envSlug" -}}
{{- if not (get $values.secretsScope $field) -}}
{{- fail (printf "%s.secretsScope.%s: required when %s.enabled (%s)" $at $field $at (get $what $field)) -}}
{{- end -}}
{{- end -}}
{{- if not (regexMatch "^https?://[^/?#\\s]+([/?][^#\\s]*)?$" (toString $values.hostAPI)) -}}
{{- fail (printf "%s.hostAPI: %q is not an http:// or https:// URL (a scheme, a host and an optional path, e.g. https://infisical.example.com/api)" $at (toString $values.hostAPI)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
