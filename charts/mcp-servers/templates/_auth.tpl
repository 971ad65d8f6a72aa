{{/*
Authorization (`auth`): who may call the server and how often. The runtime enforces it; the
chart turns the values into its environment, lets an `oauth` server out to the issuer's keys
and tells clients what to send. mcp-servers.validate.auth checks the values first.
*/}}

{{/*
mcp-servers.auth.ownedEnv: the environment variables the runtime reads for authentication and
tool grants, as JSON: name -> the `auth` key that sets it. While `auth.mode` is not `none` the
chart owns all of them, so `env` and `secrets` cannot set one beside it (a hand-set
MCP_JWT_PUBLIC_KEY or MCP_AUTH_TOKEN next to the chart's settings would make the runtime refuse
to start, or quietly change who gets in). The rate limits are not listed: they work in every
mode, and conflict only with their own `auth.rateLimit` key.
Usage: {{ include "mcp-servers.auth.ownedEnv" . | fromJson }}
*/}}
{{- define "mcp-servers.auth.ownedEnv" -}}
{{- dict
  "MCP_AUTH_TOKEN" "auth.token.existingSecret"
  "MCP_JWT_ISSUER" "auth.oauth.issuer"
  "MCP_JWT_JWKS_URI" "auth.oauth.jwksUri"
  "MCP_JWT_PUBLIC_KEY" "auth.oauth.jwksUri"
  "MCP_RESOURCE_URL" "auth.oauth.resourceUrl"
  "MCP_JWT_AUDIENCE" "auth.oauth.audience"
  "MCP_JWT_REQUIRED_SCOPES" "auth.oauth.requiredScopes"
  "MCP_JWT_LEEWAY_SECONDS" "auth.oauth.leewaySeconds"
  "MCP_JWT_JWKS_REFRESH_SECONDS" "auth.oauth.jwksRefreshSeconds"
  "MCP_TOOL_GRANTS" "auth.toolGrants"
  "MCP_TOOL_GRANTS_CLAIM" "auth.toolGrantsClaim" | toJson -}}
{{- end -}}

{{/*
mcp-servers.auth.resourceUrl: in mode `oauth`, the URL clients reach the server's `/mcp` at,
which its protected-resource metadata names and tokens are issued for: `auth.oauth.resourceUrl`,
else the exposed URL (`.externalUrl`), else the in-cluster one (`.url`); empty in other modes.
Usage: {{ include "mcp-servers.auth.resourceUrl" SERVER }}
*/}}
{{- define "mcp-servers.auth.resourceUrl" -}}
{{- if eq .auth.mode "oauth" -}}
{{- .auth.oauth.resourceUrl | default .externalUrl | default .url -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.auth.env: the runtime's authorization settings that are no secret, as JSON, for the
ConfigMap (mcp-servers.env.chart): in mode `oauth` the issuer, JWKS, resource URL, leeway and
JWKS refresh interval always, the audience, required scopes and tool grants when set (and the
grants' claim when it is not the runtime's default, `scope`); in any mode the rate limits that
are set. The token of mode `token` is not here: it comes from its Secret
(mcp-servers.auth.tokenRef).
Usage: {{ include "mcp-servers.auth.env" SERVER | fromJson }}
*/}}
{{- define "mcp-servers.auth.env" -}}
{{- $auth := .auth -}}
{{- $env := dict -}}
{{- if eq $auth.mode "oauth" -}}
{{- $oauth := $auth.oauth -}}
{{- $_ := set $env "MCP_JWT_ISSUER" $oauth.issuer -}}
{{- $_ = set $env "MCP_JWT_JWKS_URI" $oauth.jwksUri -}}
{{- $_ = set $env "MCP_RESOURCE_URL" (include "mcp-servers.auth.resourceUrl" .) -}}
{{- $_ = set $env "MCP_JWT_LEEWAY_SECONDS" (toString (int $oauth.leewaySeconds)) -}}
{{- $_ = set $env "MCP_JWT_JWKS_REFRESH_SECONDS" (toString (int $oauth.jwksRefreshSeconds)) -}}
{{- with $oauth.audience -}}
{{- $_ := set $env "MCP_JWT_AUDIENCE" . -}}
{{- end -}}
{{- with $oauth.requiredScopes -}}
{{- $_ := set $env "MCP_JWT_REQUIRED_SCOPES" (join " " .) -}}
{{- end -}}
{{- with $auth.toolGrants -}}
{{- $_ := set $env "MCP_TOOL_GRANTS" (toJson .) -}}
{{- if ne $auth.toolGrantsClaim "scope" -}}
{{- $_ := set $env "MCP_TOOL_GRANTS_CLAIM" $auth.toolGrantsClaim -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- with $auth.rateLimit.perCaller -}}
{{- $_ := set $env "MCP_RATE_LIMIT_PER_CALLER" . -}}
{{- end -}}
{{- with $auth.rateLimit.perServer -}}
{{- $_ := set $env "MCP_RATE_LIMIT_PER_SERVER" . -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{/*
mcp-servers.auth.tokenRef: in mode `token`, the `secretKeyRef` of MCP_AUTH_TOKEN as JSON
(`auth.token.existingSecret`, `auth.token.key`); empty in other modes. Not optional: a pod
without its token must not start, as it would serve /mcp to no one and look healthy.
Usage: {{- with include "mcp-servers.auth.tokenRef" SERVER }}{{ fromJson . }}{{ end }}
*/}}
{{- define "mcp-servers.auth.tokenRef" -}}
{{- if eq .auth.mode "token" -}}
{{- dict "name" .auth.token.existingSecret "key" .auth.token.key | toJson -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.auth.jwksPort: the TCP port of `auth.oauth.jwksUri` (the one it names, else 443 for
https and 80 for http), for the NetworkPolicy's egress rule.
Usage: {{ include "mcp-servers.auth.jwksPort" SERVER | int }}
*/}}
{{- define "mcp-servers.auth.jwksPort" -}}
{{- $url := urlParse .auth.oauth.jwksUri -}}
{{- with regexFind ":[0-9]+$" $url.host -}}
{{- trimPrefix ":" . -}}
{{- else -}}
{{- ternary "443" "80" (eq $url.scheme "https") -}}
{{- end -}}
{{- end -}}

{{/*
mcp-servers.auth.describe: one line for NOTES saying what a caller of the server must send.
Usage: {{ include "mcp-servers.auth.describe" SERVER }}
*/}}
{{- define "mcp-servers.auth.describe" -}}
{{- $auth := .auth -}}
{{- if eq $auth.mode "token" -}}
the bearer token in Secret {{ $auth.token.existingSecret }} (key {{ $auth.token.key }}), sent as "Authorization: Bearer <token>"
{{- else if eq $auth.mode "oauth" -}}
OAuth access tokens of {{ $auth.oauth.issuer }}
{{- with $auth.oauth.requiredScopes }} holding the scopes {{ join " " . }}{{ end -}}
, issued for {{ $auth.oauth.audience | default (include "mcp-servers.auth.resourceUrl" .) }}
{{- else -}}
no credentials (auth.mode none): anyone the NetworkPolicy admits
{{- end -}}
{{- end -}}

{{/*
mcp-servers.auth.metadataUrl: in mode `oauth`, where clients read the server's protected-resource
metadata (RFC 9728, section 3.1): `/.well-known/oauth-protected-resource` inserted between the
host and the path of the resource URL (mcp-servers.auth.resourceUrl); the runtime's 401 names it
too.
Usage: {{ include "mcp-servers.auth.metadataUrl" SERVER }}
*/}}
{{- define "mcp-servers.auth.metadataUrl" -}}
{{- $url := urlParse (include "mcp-servers.auth.resourceUrl" .) -}}
{{- printf "%s://%s/.well-known/oauth-protected-resource%s" $url.scheme $url.host (trimSuffix "/" $url.path) -}}
{{- end -}}

{{/*
mcp-servers.notes.tokenVars: for the servers in mode `token` among SERVERS (name -> computed
server), the environment variable the printed client configurations read each one's token from,
as JSON: MCP_TOKEN (as scripts/client_configs.py --auth) when they all share one Secret key,
else MCP_TOKEN_<NAME> each.
Usage: {{ include "mcp-servers.notes.tokenVars" SERVERS | fromJson }}
*/}}
{{- define "mcp-servers.notes.tokenVars" -}}
{{- $refs := dict -}}
{{- range $name, $s := . -}}
{{- with include "mcp-servers.auth.tokenRef" $s -}}
{{- $_ := set $refs . true -}}
{{- end -}}
{{- end -}}
{{- $vars := dict -}}
{{- range $name, $s := . -}}
{{- if include "mcp-servers.auth.tokenRef" $s -}}
{{- $_ := set $vars $name (ternary "MCP_TOKEN" (printf "MCP_TOKEN_%s" ($name | upper | replace "-" "_")) (eq (len $refs) 1)) -}}
{{- end -}}
{{- end -}}
{{- toJson $vars -}}
{{- end -}}
