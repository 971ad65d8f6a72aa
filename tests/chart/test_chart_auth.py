"""`auth`: the runtime's authorization environment rendered from values (a shared token only
ever from its Secret, OAuth settings, tool grants, rate limits), inherited from `defaults` and
overridden per server and for the gateway; the checks that refuse what would not work or would
silently do nothing; the NetworkPolicy's way out to the issuer's keys; what NOTES tells clients."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helm_render import (
    CHART,
    KUBERNETES_VERSIONS,
    NAMESPACE,
    VALUES_DIR,
    Render,
    RenderError,
    kubeconform,
    notes,
    render,
    render_error,
)

TIME = (VALUES_DIR / "time.yaml",)
TODO = (VALUES_DIR / "todo.yaml",)
TWO = (*TIME, *TODO)
ISSUER = "https://login.example.com/realms/mcp"
JWKS = "https://login.example.com/realms/mcp/protocol/openid-connect/certs"
OAUTH = {"mode": "oauth", "oauth": {"issuer": ISSUER, "jwksUri": JWKS}}
TOKEN = {"mode": "token", "token": {"existingSecret": "mcp-auth"}}
INGRESS = {
    "enabled": True,
    "hosts": ["time.mcp.example.com"],
    "tlsSecretName": "time-tls",
    "controllerNamespace": "ingress",
}
IN_CLUSTER_TIME = f"http://time-mcp.{NAMESPACE}.svc.cluster.local:8010/mcp"
AUTH_ENV = (
    "MCP_AUTH_TOKEN",
    "MCP_JWT_ISSUER",
    "MCP_JWT_JWKS_URI",
    "MCP_JWT_AUDIENCE",
    "MCP_JWT_REQUIRED_SCOPES",
    "MCP_JWT_LEEWAY_SECONDS",
    "MCP_JWT_JWKS_REFRESH_SECONDS",
    "MCP_RESOURCE_URL",
    "MCP_TOOL_GRANTS",
    "MCP_TOOL_GRANTS_CLAIM",
    "MCP_RATE_LIMIT_PER_CALLER",
    "MCP_RATE_LIMIT_PER_SERVER",
)


def auth(key: str, value: dict[str, Any]) -> str:
    return f"{key}.auth={json.dumps(value)}"


def config_env(result: Render, fullname: str) -> dict[str, str]:
    data = dict(result.get("ConfigMap", fullname)["data"])
    data.pop("server-config.json")
    return data


def auth_env(result: Render, fullname: str) -> dict[str, str]:
    return {k: v for k, v in config_env(result, fullname).items() if k in AUTH_ENV}


def container_env(result: Render, fullname: str) -> dict[str, dict[str, Any]]:
    (server,) = result.get("Deployment", fullname)["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry for entry in server["env"]}


def test_no_auth_by_default() -> None:
    result = render(TWO)
    for fullname in ("time-mcp", "todo-mcp"):
        assert auth_env(result, fullname) == {}
        assert "MCP_AUTH_TOKEN" not in container_env(result, fullname)


def test_token_mode_takes_the_token_from_its_secret_only() -> None:
    result = render(TIME, set_json=(auth("servers.time", TOKEN),))
    env = container_env(result, "time-mcp")
    assert env["MCP_AUTH_TOKEN"] == {
        "name": "MCP_AUTH_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "mcp-auth", "key": "token"}},
    }
    # Nothing of it in the ConfigMap, and no OAuth settings beside it.
    assert auth_env(result, "time-mcp") == {}
    other_key = render(
        TIME,
        set_json=(auth("servers.time", {**TOKEN, "token": {"existingSecret": "s", "key": "k"}}),),
    )
    ref = container_env(other_key, "time-mcp")["MCP_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "s", "key": "k"}


def test_token_mode_gives_the_helm_test_pod_the_same_token() -> None:
    result = render(TIME, set_json=(auth("servers.time", TOKEN),))
    (call,) = result.get("Pod", "time-mcp-test")["spec"]["containers"]
    env = {entry["name"]: entry for entry in call["env"]}
    assert env["MCP_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "mcp-auth",
        "key": "token",
    }
    assert "MCP_TEST_AUTH" not in env


def test_oauth_mode_renders_the_jwt_settings_with_the_in_cluster_resource_url() -> None:
    result = render(TIME, set_json=(auth("servers.time", OAUTH),))
    assert auth_env(result, "time-mcp") == {
        "MCP_JWT_ISSUER": ISSUER,
        "MCP_JWT_JWKS_URI": JWKS,
        "MCP_RESOURCE_URL": IN_CLUSTER_TIME,
        "MCP_JWT_LEEWAY_SECONDS": "60",
        "MCP_JWT_JWKS_REFRESH_SECONDS": "30",
    }
    env = container_env(result, "time-mcp")
    assert "MCP_AUTH_TOKEN" not in env
    assert env["MCP_RESOURCE_URL"]["valueFrom"]["configMapKeyRef"] == {
        "name": "time-mcp",
        "key": "MCP_RESOURCE_URL",
    }


def test_oauth_resource_url_follows_the_exposed_host() -> None:
    result = render(
        TIME, set_json=(auth("servers.time", OAUTH), f"servers.time.ingress={json.dumps(INGRESS)}")
    )
    assert auth_env(result, "time-mcp")["MCP_RESOURCE_URL"] == "https://time.mcp.example.com/mcp"
    route = {
        "enabled": True,
        "parentRefs": [{"name": "public"}],
        "hostnames": ["time.gw.example.com"],
        "scheme": "http",
        "controllerNamespace": "gateways",
    }
    routed = render(
        TIME, set_json=(auth("servers.time", OAUTH), f"servers.time.httpRoute={json.dumps(route)}")
    )
    assert auth_env(routed, "time-mcp")["MCP_RESOURCE_URL"] == "http://time.gw.example.com/mcp"


def test_oauth_explicit_settings() -> None:
    oauth = {
        "mode": "oauth",
        "oauth": {
            "issuer": ISSUER,
            "jwksUri": JWKS,
            "resourceUrl": "https://mcp.example.com/mcp",
            "audience": "api://mcp",
            "requiredScopes": ["mcp", "mcp:tools"],
            "leewaySeconds": 5,
            "jwksRefreshSeconds": 300,
        },
        "toolGrants": {"todo:read": ["@read-only"], "todo:write": ["*"], "ops": ["add_todo"]},
        "toolGrantsClaim": "groups",
        "rateLimit": {"perCaller": "60/minute", "perServer": "10/second"},
    }
    result = render(TIME, set_json=(auth("servers.time", oauth),))
    env = auth_env(result, "time-mcp")
    assert env == {
        "MCP_JWT_ISSUER": ISSUER,
        "MCP_JWT_JWKS_URI": JWKS,
        "MCP_RESOURCE_URL": "https://mcp.example.com/mcp",
        "MCP_JWT_AUDIENCE": "api://mcp",
        "MCP_JWT_REQUIRED_SCOPES": "mcp mcp:tools",
        "MCP_JWT_LEEWAY_SECONDS": "5",
        "MCP_JWT_JWKS_REFRESH_SECONDS": "300",
        "MCP_TOOL_GRANTS": env["MCP_TOOL_GRANTS"],
        "MCP_TOOL_GRANTS_CLAIM": "groups",
        "MCP_RATE_LIMIT_PER_CALLER": "60/minute",
        "MCP_RATE_LIMIT_PER_SERVER": "10/second",
    }
    assert json.loads(env["MCP_TOOL_GRANTS"]) == oauth["toolGrants"]
    # Clients reach the server at its resource URL, so its host passes DNS-rebinding protection.
    hosts = config_env(result, "time-mcp")["MCP_ALLOWED_HOSTS"].split(",")
    assert hosts[-1] == "mcp.example.com"


def test_the_default_grants_claim_is_left_to_the_runtime() -> None:
    grants = {**OAUTH, "toolGrants": {"todo:read": ["@read-only"]}}
    env = auth_env(render(TIME, set_json=(auth("servers.time", grants),)), "time-mcp")
    assert "MCP_TOOL_GRANTS" in env
    assert "MCP_TOOL_GRANTS_CLAIM" not in env


def test_rate_limits_work_without_auth() -> None:
    limits = {"rateLimit": {"perCaller": "100/hour"}}
    result = render(TIME, set_json=(auth("servers.time", limits),))
    assert auth_env(result, "time-mcp") == {"MCP_RATE_LIMIT_PER_CALLER": "100/hour"}


def test_defaults_are_inherited_and_overridden_per_key() -> None:
    result = render(
        TWO,
        set_json=(
            auth("defaults", {**OAUTH, "rateLimit": {"perCaller": "60/minute"}}),
            # A key of the server's own merges over the defaults' instead of replacing them.
            'servers.todo.auth={"oauth":{"requiredScopes":["todo"]}}',
            'servers.time.auth={"mode":"token","token":{"existingSecret":"time-auth"}}',
        ),
    )
    todo = auth_env(result, "todo-mcp")
    assert todo["MCP_JWT_ISSUER"] == ISSUER
    assert todo["MCP_JWT_REQUIRED_SCOPES"] == "todo"
    assert todo["MCP_RATE_LIMIT_PER_CALLER"] == "60/minute"
    assert todo["MCP_RESOURCE_URL"] == f"http://todo-mcp.{NAMESPACE}.svc.cluster.local:8001/mcp"
    time = auth_env(result, "time-mcp")
    assert time == {"MCP_RATE_LIMIT_PER_CALLER": "60/minute"}
    ref = container_env(result, "time-mcp")["MCP_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "time-auth", "key": "token"}


def test_the_gateway_takes_auth_from_defaults_and_its_own_settings() -> None:
    on = "gateway.enabled=true"
    inherited = render(TWO, set_json=(on, auth("defaults", OAUTH)))
    assert auth_env(inherited, "gateway-mcp")["MCP_RESOURCE_URL"] == (
        f"http://gateway-mcp.{NAMESPACE}.svc.cluster.local:8020/mcp"
    )
    exposed = {**INGRESS, "hosts": ["mcp.example.com"]}
    own = render(
        TWO,
        set_json=(
            on,
            auth("gateway.server", {**OAUTH, "toolGrants": {"mcp:read": ["@read-only"]}}),
            f"gateway.server.ingress={json.dumps(exposed)}",
        ),
    )
    env = auth_env(own, "gateway-mcp")
    assert env["MCP_RESOURCE_URL"] == "https://mcp.example.com/mcp"
    assert json.loads(env["MCP_TOOL_GRANTS"]) == {"mcp:read": ["@read-only"]}
    assert auth_env(own, "todo-mcp") == {}
    token = render(TWO, set_json=(on, auth("gateway.server", TOKEN)))
    ref = container_env(token, "gateway-mcp")["MCP_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "mcp-auth", "key": "token"}


def egress(result: Render, fullname: str) -> list[dict[str, Any]]:
    return result.get("NetworkPolicy", fullname)["spec"]["egress"]


@pytest.mark.parametrize(
    ("jwks", "port"),
    [
        (JWKS, 443),
        ("http://keycloak.auth.svc:8080/realms/mcp/certs", 8080),
        ("http://keycloak.auth/certs", 80),
        ("https://[2001:db8::1]:8443/certs", 8443),
    ],
)
def test_oauth_lets_the_pods_out_to_the_jwks_port_only(jwks: str, port: int) -> None:
    oauth = {"mode": "oauth", "oauth": {"issuer": ISSUER, "jwksUri": jwks}}
    rules = egress(render(TIME, set_json=(auth("servers.time", oauth),)), "time-mcp")
    assert {"ports": [{"port": port, "protocol": "TCP"}]} in rules


def test_the_jwks_egress_can_be_narrowed_to_the_issuer() -> None:
    peers = [{"ipBlock": {"cidr": "203.0.113.0/24"}}]
    oauth = {"mode": "oauth", "oauth": {"issuer": ISSUER, "jwksUri": JWKS, "jwksEgressTo": peers}}
    rules = egress(render(TIME, set_json=(auth("servers.time", oauth),)), "time-mcp")
    assert {"to": peers, "ports": [{"port": 443, "protocol": "TCP"}]} in rules


def test_no_jwks_egress_without_oauth() -> None:
    for values in ({}, TOKEN):
        rules = egress(render(TIME, set_json=(auth("servers.time", values),)), "time-mcp")
        assert all(rule.get("ports") != [{"port": 443, "protocol": "TCP"}] for rule in rules)


def test_probes_and_scrapes_stay_unauthenticated() -> None:
    result = render(
        TIME,
        set_json=(auth("servers.time", TOKEN), "servers.time.metrics.serviceMonitor.enabled=true"),
    )
    (server,) = result.get("Deployment", "time-mcp")["spec"]["template"]["spec"]["containers"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert "httpHeaders" not in server[probe]["httpGet"]
    (endpoint,) = result.get("ServiceMonitor", "time-mcp")["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert not {"authorization", "bearerTokenSecret", "bearerTokenFile", "basicAuth"} & set(
        endpoint
    )


def test_oauth_helm_test_checks_that_anonymous_calls_are_refused() -> None:
    # A Secret of other variables may hold an old MCP_AUTH_TOKEN: no shared token opens an
    # OAuth server, so the test pod does not send it.
    result = render(
        TIME, set_json=(auth("servers.time", OAUTH), 'servers.time.existingSecret="time-env"')
    )
    (call,) = result.get("Pod", "time-mcp-test")["spec"]["containers"]
    env = {entry["name"]: entry for entry in call["env"]}
    assert env["MCP_TEST_AUTH"] == {"name": "MCP_TEST_AUTH", "value": "oauth"}
    assert "MCP_AUTH_TOKEN" not in env


# --- refusals -------------------------------------------------------------------------------

TEMPLATE_CASES = [
    (
        "token-without-secret",
        TIME,
        [auth("servers.time", {"mode": "token"})],
        "servers.time.auth.token.existingSecret: required when servers.time.auth.mode is token"
        " (a Secret in the release namespace holding the bearer token under"
        " servers.time.auth.token.key)",
    ),
    (
        "oauth-without-issuer",
        TIME,
        [auth("servers.time", {"mode": "oauth", "oauth": {"jwksUri": JWKS}})],
        "servers.time.auth.oauth.issuer: required when servers.time.auth.mode is oauth",
    ),
    (
        "oauth-without-jwks",
        TIME,
        [auth("servers.time", {"mode": "oauth", "oauth": {"issuer": ISSUER}})],
        "servers.time.auth.oauth.jwksUri: required when servers.time.auth.mode is oauth",
    ),
    (
        "issuer-not-a-url",
        TIME,
        [
            auth(
                "servers.time",
                {"mode": "oauth", "oauth": {"issuer": "login.example.com", "jwksUri": JWKS}},
            )
        ],
        'servers.time.auth.oauth.issuer: "login.example.com" is not an http:// or https:// URL'
        " (a scheme, a host and an optional path; no fragment)",
    ),
    (
        "jwks-not-http",
        TIME,
        [
            auth(
                "servers.time",
                {"mode": "oauth", "oauth": {"issuer": ISSUER, "jwksUri": "file:///keys.json"}},
            )
        ],
        'servers.time.auth.oauth.jwksUri: "file:///keys.json" is not an http:// or https:// URL'
        " (a scheme, a host and an optional path; no fragment)",
    ),
    (
        "resource-url-not-mcp",
        TIME,
        [
            auth(
                "servers.time",
                {**OAUTH, "oauth": {**OAUTH["oauth"], "resourceUrl": "https://mcp.example.com/"}},
            )
        ],
        'servers.time.auth.oauth.resourceUrl: "https://mcp.example.com/" is not the URL of the'
        " server's /mcp as clients reach it; use http(s)://<host>[:port]/mcp, e.g."
        " https://todo.example.com/mcp",
    ),
    (
        "scope-with-space",
        TIME,
        [
            auth(
                "servers.time",
                {**OAUTH, "oauth": {**OAUTH["oauth"], "requiredScopes": ["mcp", "a b"]}},
            )
        ],
        'servers.time.auth.oauth.requiredScopes[1]: "a b" contains whitespace or a comma, which'
        " separate scopes; list each scope as its own entry",
    ),
    (
        "scope-with-comma",
        TIME,
        [auth("servers.time", {**OAUTH, "oauth": {**OAUTH["oauth"], "requiredScopes": ["a,b"]}})],
        'servers.time.auth.oauth.requiredScopes[0]: "a,b" contains whitespace or a comma, which'
        " separate scopes; list each scope as its own entry",
    ),
    (
        "grants-without-auth",
        TIME,
        [auth("servers.time", {"toolGrants": {"read": ["@read-only"]}})],
        "servers.time.auth.toolGrants: only used when servers.time.auth.mode is oauth (it is"
        " none): with no authentication every caller is the same one; set"
        " servers.time.auth.mode: oauth or remove the grants",
    ),
    (
        "grants-with-token",
        TIME,
        [auth("servers.time", {**TOKEN, "toolGrants": {"read": ["@read-only"]}})],
        "servers.time.auth.toolGrants: only used when servers.time.auth.mode is oauth (it is"
        " token): with one shared token every caller is the same one; set"
        " servers.time.auth.mode: oauth or remove the grants",
    ),
    (
        "grants-in-defaults-without-oauth",
        TIME,
        [auth("defaults", {"toolGrants": {"read": ["@read-only"]}})],
        "defaults.auth.toolGrants: only used when defaults.auth.mode is oauth (it is none), and"
        " servers.time inherits both; set defaults.auth.mode: oauth, remove the grants, or set"
        " servers.time.auth.mode",
    ),
    (
        "gateway-grants-with-token",
        TWO,
        ["gateway.enabled=true", auth("gateway.server", {**TOKEN, "toolGrants": {"r": ["*"]}})],
        "gateway.server.auth.toolGrants: only used when gateway.server.auth.mode is oauth (it is"
        " token): with one shared token every caller is the same one; set"
        " gateway.server.auth.mode: oauth or remove the grants",
    ),
    (
        "gateway-token-without-secret",
        TWO,
        ["gateway.enabled=true", auth("gateway.server", {"mode": "token"})],
        "gateway.server.auth.token.existingSecret: required when gateway.server.auth.mode is token",
    ),
    (
        "env-token-with-token-mode",
        TIME,
        [
            auth("servers.time", TOKEN),
            'servers.time.env={"MCP_AUTH_TOKEN":{"valueFrom":{"secretKeyRef":{"name":"x","key":"t"}}}}',
        ],
        "servers.time.env.MCP_AUTH_TOKEN: MCP_AUTH_TOKEN conflicts with servers.time.auth.mode"
        " (token), from which the chart sets the server's authentication (MCP_AUTH_TOKEN:"
        " servers.time.auth.token.existingSecret); remove servers.time.env.MCP_AUTH_TOKEN",
    ),
    (
        "env-public-key-with-oauth",
        TIME,
        [
            auth("servers.time", OAUTH),
            'servers.time.env={"MCP_JWT_PUBLIC_KEY":{"valueFrom":{"secretKeyRef":{"name":"x","key":"k"}}}}',
        ],
        "servers.time.env.MCP_JWT_PUBLIC_KEY: MCP_JWT_PUBLIC_KEY conflicts with"
        " servers.time.auth.mode (oauth), from which the chart sets the server's authentication"
        " (MCP_JWT_PUBLIC_KEY: servers.time.auth.oauth.jwksUri); remove"
        " servers.time.env.MCP_JWT_PUBLIC_KEY",
    ),
    (
        "env-issuer-with-token-mode",
        TIME,
        [auth("servers.time", TOKEN), f'servers.time.env={{"MCP_JWT_ISSUER":"{ISSUER}"}}'],
        "servers.time.env.MCP_JWT_ISSUER: MCP_JWT_ISSUER conflicts with servers.time.auth.mode"
        " (token), from which the chart sets the server's authentication (MCP_JWT_ISSUER:"
        " servers.time.auth.oauth.issuer); remove servers.time.env.MCP_JWT_ISSUER",
    ),
    (
        "secret-token-with-oauth",
        TODO,
        [
            auth("servers.todo", OAUTH),
            'servers.todo.secrets=[{"name":"DATABASE_URL","remoteRef":"db"},'
            '{"name":"MCP_AUTH_TOKEN","remoteRef":"mcp/todo/token"}]',
        ],
        "servers.todo.secrets[1].name: MCP_AUTH_TOKEN conflicts with servers.todo.auth.mode"
        " (oauth), from which the chart sets the server's authentication (MCP_AUTH_TOKEN:"
        " servers.todo.auth.token.existingSecret); remove servers.todo.secrets[1].name",
    ),
    (
        "env-rate-limit-with-auth-rate-limit",
        TIME,
        [
            auth("servers.time", {"rateLimit": {"perServer": "10/second"}}),
            'servers.time.env={"MCP_RATE_LIMIT_PER_SERVER":"5/second"}',
        ],
        "servers.time.env.MCP_RATE_LIMIT_PER_SERVER: MCP_RATE_LIMIT_PER_SERVER is set by the"
        " chart from servers.time.auth.rateLimit.perServer; remove one of them",
    ),
]


@pytest.mark.parametrize(
    ("values_files", "set_json", "message"),
    [pytest.param(files, args, message, id=case) for case, files, args, message in TEMPLATE_CASES],
)
def test_bad_auth_fails_naming_the_key(values_files, set_json, message) -> None:
    error = render_error(values_files, tuple(set_json))
    assert message in error


def test_urls_are_checked_without_the_schema_too() -> None:
    oauth = {"mode": "oauth", "oauth": {"issuer": "ftp://x", "jwksUri": JWKS}}
    with pytest.raises(RenderError) as error:
        render(TIME, set_json=(auth("servers.time", oauth),), extra=("--skip-schema-validation",))
    assert 'servers.time.auth.oauth.issuer: "ftp://x" is not an http:// or https:// URL' in str(
        error.value
    )


def test_what_is_not_contradictory_renders() -> None:
    # A server that turns auth off may keep the fleet's grants (they are simply not used), and
    # OAuth settings in defaults do not bother a server in mode none or token.
    render(
        TWO,
        set_json=(
            auth("defaults", {**OAUTH, "toolGrants": {"read": ["@read-only"]}}),
            'servers.todo.auth={"mode":"none"}',
            'servers.time.auth={"mode":"token","token":{"existingSecret":"t"}}',
        ),
    )
    # Without auth.mode, a token set by hand (the way before `auth`) still works.
    hand_set = render(
        TIME,
        set_json=(
            'servers.time.env={"MCP_AUTH_TOKEN":{"valueFrom":{"secretKeyRef":{"name":"x","key":"t"}}}}',
        ),
    )
    assert container_env(hand_set, "time-mcp")["MCP_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "x",
        "key": "t",
    }


SCHEMA_CASES = [
    (
        "mode-unknown",
        [auth("servers.time", {"mode": "basic"})],
        "at '/servers/time/auth/mode': value must be one of 'none', 'token', 'oauth'",
    ),
    (
        "rate-limit-words",
        [auth("servers.time", {"rateLimit": {"perCaller": "60 per minute"}})],
        "at '/servers/time/auth/rateLimit/perCaller': '60 per minute' does not match pattern",
    ),
    (
        "rate-limit-plural",
        [auth("defaults", {"rateLimit": {"perServer": "10/minutes"}})],
        "at '/defaults/auth/rateLimit/perServer': '10/minutes' does not match pattern",
    ),
    (
        "rate-limit-zero",
        [auth("servers.time", {"rateLimit": {"perServer": "0/second"}})],
        "at '/servers/time/auth/rateLimit/perServer': '0/second' does not match pattern",
    ),
    (
        "unknown-auth-key",
        [auth("servers.time", {"tokens": {}})],
        "at '/servers/time/auth': additional properties 'tokens' not allowed",
    ),
    (
        "grant-without-tools",
        [auth("servers.time", {**OAUTH, "toolGrants": {"read": []}})],
        "at '/servers/time/auth/toolGrants/read': minItems: got 0, want 1",
    ),
    (
        "leeway-too-long",
        [auth("servers.time", {"oauth": {"leewaySeconds": 3600}})],
        "at '/servers/time/auth/oauth/leewaySeconds': maximum: got 3,600, want 600",
    ),
    (
        "secret-name-not-dns",
        [auth("servers.time", {"token": {"existingSecret": "Auth_Token"}})],
        "at '/servers/time/auth/token/existingSecret': 'Auth_Token' does not match pattern",
    ),
    (
        "literal-token",
        [auth("servers.time", {"token": {"value": "s3cr3t"}})],
        "at '/servers/time/auth/token': additional properties 'value' not allowed",
    ),
]


@pytest.mark.parametrize(
    ("set_json", "message"),
    [pytest.param(args, message, id=case) for case, args, message in SCHEMA_CASES],
)
def test_schema_refuses_bad_auth(set_json, message) -> None:
    error = render_error(TIME, tuple(set_json))
    assert "values don't meet the specifications of the schema" in error
    assert message in error


# --- NOTES ----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, values: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(values))
    return path


def config_after(text: str, title: str) -> dict[str, Any]:
    """The JSON document printed right after `title`."""
    start = text.index("{", text.index(title))
    return json.JSONDecoder().raw_decode(text, start)[0]


def test_notes_without_auth_say_nothing_about_it() -> None:
    text = notes(TWO)
    assert "Who may call" not in text
    assert "headers" not in text
    assert "MCP_TOKEN" not in text


def test_notes_in_token_mode_print_a_placeholder_header_never_the_token(tmp_path: Path) -> None:
    values = write(tmp_path, "token", {"defaults": {"auth": TOKEN}})
    text = notes((*TWO, values))
    claude = config_after(text, ".mcp.json (Claude Code)")
    assert claude["mcpServers"]["time"] == {
        "type": "http",
        "url": IN_CLUSTER_TIME,
        "headers": {"Authorization": "Bearer ${MCP_TOKEN}"},
    }
    vscode = config_after(text, ".vscode/mcp.json (VS Code)")
    assert vscode["servers"]["todo"]["headers"] == {"Authorization": "Bearer ${input:mcp-token}"}
    assert vscode["inputs"] == [
        {
            "type": "promptString",
            "id": "mcp-token",
            "description": "Bearer token of the MCP servers",
            "password": True,
        }
    ]
    cursor = config_after(text, "~/.cursor/mcp.json (Cursor)")
    assert cursor["mcpServers"]["time"]["headers"] == {"Authorization": "Bearer ${env:MCP_TOKEN}"}
    assert (
        f'claude mcp add --transport http time {IN_CLUSTER_TIME} --header "Authorization: Bearer'
        ' $MCP_TOKEN"'
    ) in text
    assert (
        f'export MCP_TOKEN="$(kubectl -n {NAMESPACE} get secret mcp-auth -o'
        " jsonpath='{.data.token}' | base64 -d)\""
    ) in text
    assert (
        '  - time: the bearer token in Secret mcp-auth (key token), sent as "Authorization:'
        ' Bearer <token>"'
    ) in text
    assert (
        "/health and /ready answer without credentials in every mode, and /metrics on its own port"
        "\n  (metrics.port), which neither the Service nor an Ingress or HTTPRoute reaches."
    ) in text


def test_notes_name_one_token_variable_per_secret(tmp_path: Path) -> None:
    values = write(
        tmp_path,
        "tokens",
        {
            "servers": {
                "time": {"auth": TOKEN},
                "todo": {"auth": {"mode": "token", "token": {"existingSecret": "todo-auth"}}},
            }
        },
    )
    text = notes((*TWO, values))
    claude = config_after(text, ".mcp.json (Claude Code)")
    assert claude["mcpServers"]["time"]["headers"] == {"Authorization": "Bearer ${MCP_TOKEN_TIME}"}
    assert claude["mcpServers"]["todo"]["headers"] == {"Authorization": "Bearer ${MCP_TOKEN_TODO}"}
    assert "export MCP_TOKEN_TODO=" in text
    assert "secret todo-auth" in text


def test_notes_in_oauth_mode_point_clients_at_the_metadata(tmp_path: Path) -> None:
    values = write(
        tmp_path,
        "oauth",
        {
            "servers": {
                "time": {
                    "ingress": INGRESS,
                    "auth": {
                        **OAUTH,
                        "oauth": {**OAUTH["oauth"], "requiredScopes": ["mcp", "time"]},
                    },
                }
            }
        },
    )
    text = notes((*TWO, values))
    assert (
        f"  - time: OAuth access tokens of {ISSUER} holding the scopes mcp time, issued for"
        " https://time.mcp.example.com/mcp\n"
        "    Clients discover the authorization server from the protected-resource metadata"
        " (RFC 9728) at\n"
        "    https://time.mcp.example.com/.well-known/oauth-protected-resource/mcp, which the 401"
        " of /mcp names."
    ) in text
    assert "  - todo: no credentials (auth.mode none): anyone the NetworkPolicy admits" in text
    # Clients run the OAuth flow themselves: no header in their configurations.
    outside = config_after(text, "clients outside the cluster")
    assert outside["mcpServers"]["time"] == {
        "type": "http",
        "url": "https://time.mcp.example.com/mcp",
    }
    assert "MCP_TOKEN" not in text


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
def test_auth_renders_pass_kubeconform(version: str, tmp_path: Path) -> None:
    renders = {
        "token": render(TWO, set_json=(auth("defaults", TOKEN), "gateway.enabled=true")),
        "oauth": render(
            TWO,
            set_json=(
                auth(
                    "defaults",
                    {
                        **OAUTH,
                        "toolGrants": {"r": ["@read-only"]},
                        "rateLimit": {"perCaller": "1/second"},
                    },
                ),
                'servers.time.auth={"oauth":{"jwksEgressTo":[{"ipBlock":{"cidr":"203.0.113.0/24"}}]}}',
            ),
        ),
    }
    for name, result in renders.items():
        (tmp_path / f"{name}.yaml").write_text(result.text)
    report = kubeconform(version, tmp_path, skip=("ExternalSecret",))
    problems = [
        r for r in report["resources"] if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert problems == []


# --- the helm test pod in mode oauth ----------------------------------------------------------


def load_smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mcp_smoke", CHART / "files" / "mcp-smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def answering(status: int) -> Iterator[str]:
    """A local HTTP server answering every POST with `status`; yields its /mcp URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"jsonrpc":"2.0","id":1,"result":{}}' if status == 200 else b""
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    finally:
        server.shutdown()
        server.server_close()


def test_smoke_passes_when_an_oauth_server_refuses_an_anonymous_call() -> None:
    smoke = load_smoke()
    with answering(401) as url:
        assert smoke.refuses_anonymous(url) == (
            f"ok: {url} refuses a call without a token (HTTP 401, auth.mode oauth)"
        )
    with answering(200) as url, pytest.raises(smoke.SmokeError, match="answered without a token"):
        smoke.refuses_anonymous(url)
    with answering(503) as url, pytest.raises(smoke.SmokeError, match="HTTP 503"):
        smoke.refuses_anonymous(url)
