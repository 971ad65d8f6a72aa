"""Settings come from the chart's environment; a bad value stops the start with one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastmcp.server.auth.providers.jwt import RSAKeyPair
from harness.processes import free_port, server_env
from harness.runtime import SAMPLE_SERVER
from mcp_runtime import RuntimeSettings, ServerSpec, SettingsLoadError, load_settings, run


def start_with(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **env: str
) -> str:
    """Run the console entry with `env`; return its stderr, asserting it exited 2 first."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def create(_: RuntimeSettings) -> ServerSpec:
        raise AssertionError("a server must not be created from bad settings")

    with pytest.raises(SystemExit) as exit_info:
        run(create, RuntimeSettings)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"MCP_PORT": "abc"},
            "MCP_PORT: Input should be a valid integer, unable to parse string as an integer"
            " (got 'abc')\n",
        ),
        (
            {"MCP_PORT": "70000"},
            "MCP_PORT: Input should be less than or equal to 65535 (got '70000')\n",
        ),
        (
            {"MCP_METRICS_PORT": "0"},
            "MCP_METRICS_PORT: Input should be greater than or equal to 1 (got '0')\n",
        ),
        (
            {"LOG_LEVEL": "verbose"},
            "LOG_LEVEL: Input should be 'debug', 'info', 'warning' or 'error' (got 'verbose')\n",
        ),
        (
            {"MCP_STATELESS": "maybe"},
            "MCP_STATELESS: Input should be a valid boolean, unable to interpret input"
            " (got 'maybe')\n",
        ),
        (
            {"MCP_TRANSPORT": "stdio"},
            "MCP_TRANSPORT: Input should be 'streamable-http' (got 'stdio')\n",
        ),
        (
            {"MCP_DRAIN_TIMEOUT_SECONDS": "-1"},
            "MCP_DRAIN_TIMEOUT_SECONDS: Input should be greater than or equal to 0 (got '-1')\n",
        ),
        (
            {"MCP_JWT_JWKS_URI": "ftp://keys.example/jwks.json"},
            "MCP_JWT_JWKS_URI: must be an http:// or https:// URL"
            " (got 'ftp://keys.example/jwks.json')\n",
        ),
        (
            # A Secret made from a file keeps its last line break; no header carries it.
            {"MCP_AUTH_TOKEN": "s3cret-token\n"},
            "MCP_AUTH_TOKEN: begins or ends with whitespace or holds a control character (a"
            " line break the file it came from ended with?), which no Authorization header"
            " carries: every request would get 401\n",
        ),
        (
            {"MCP_AUTH_TOKEN": "t0ken", "MCP_JWT_JWKS_URI": "https://keys.example/jwks.json"},
            "MCP_AUTH_TOKEN and a JWT verifier are both set; set only one\n",
        ),
        (
            {"MCP_HOST": "not a host"},
            "MCP_HOST: must be an IP address or host name to listen on, e.g. 0.0.0.0"
            " (got 'not a host')\n",
        ),
        (
            {"MCP_HOST": "999.1.1.1"},
            "MCP_HOST: must be an IP address or host name to listen on, e.g. 0.0.0.0"
            " (got '999.1.1.1')\n",
        ),
        (
            {"MCP_ALLOWED_ORIGINS": "https://chat.example.com, chat.example.com"},
            "MCP_ALLOWED_ORIGINS: 'chat.example.com' is not an origin; each entry must be"
            " scheme://host[:port], e.g. http://localhost:8001"
            " (got 'https://chat.example.com, chat.example.com')\n",
        ),
        (
            {"MCP_ALLOWED_ORIGINS": "https://chat.example.com/app"},
            "MCP_ALLOWED_ORIGINS: 'https://chat.example.com/app' is not an origin; each entry"
            " must be scheme://host[:port], e.g. http://localhost:8001"
            " (got 'https://chat.example.com/app')\n",
        ),
        (
            {"MCP_ALLOWED_ORIGINS": "http://localhost:80010"},
            "MCP_ALLOWED_ORIGINS: 'http://localhost:80010' is not an origin; each entry must be"
            " scheme://host[:port], e.g. http://localhost:8001 (got 'http://localhost:80010')\n",
        ),
        (
            # Never equal to a Host header: every request would get 421.
            {"MCP_ALLOWED_HOSTS": "todo.example.com, https://todo.example.com/"},
            "MCP_ALLOWED_HOSTS: 'https://todo.example.com/' is not a host; each entry must be"
            " host[:port] as the Host header carries it, e.g. todo.example.com (got"
            " 'todo.example.com, https://todo.example.com/')\n",
        ),
        (
            {"MCP_MAX_REQUEST_BYTES": "100"},
            "MCP_MAX_REQUEST_BYTES: Input should be greater than or equal to 1024 (got '100')\n",
        ),
        (
            {"MCP_MAX_REQUEST_BYTES": "4MiB"},
            "MCP_MAX_REQUEST_BYTES: Input should be a valid integer, unable to parse string as"
            " an integer (got '4MiB')\n",
        ),
        (
            {"MCP_HEADER_TIMEOUT_SECONDS": "0"},
            "MCP_HEADER_TIMEOUT_SECONDS: Input should be greater than 0 (got '0')\n",
        ),
        (
            {"MCP_SEND_TIMEOUT_SECONDS": "0"},
            "MCP_SEND_TIMEOUT_SECONDS: Input should be greater than 0 (got '0')\n",
        ),
        (
            {"MCP_BODY_TIMEOUT_SECONDS": "soon"},
            "MCP_BODY_TIMEOUT_SECONDS: Input should be a valid number, unable to parse string as"
            " a number (got 'soon')\n",
        ),
        (
            {"MCP_MAX_SESSIONS": "0"},
            "MCP_MAX_SESSIONS: Input should be greater than or equal to 1 (got '0')\n",
        ),
        (
            {"MCP_WORKERS": "0"},
            "MCP_WORKERS: Input should be greater than or equal to 1 (got '0')\n",
        ),
        (
            {"MCP_WORKERS": "4", "MCP_STATELESS": "false"},
            "MCP_WORKERS=4 needs MCP_STATELESS=true: a stateful session lives in one worker"
            " process and other workers answer it with 404\n",
        ),
        (
            {"MCP_SESSION_IDLE_TIMEOUT_SECONDS": "-5"},
            "MCP_SESSION_IDLE_TIMEOUT_SECONDS: Input should be greater than 0 (got '-5')\n",
        ),
        (
            {"MCP_JWT_LEEWAY_SECONDS": "-1"},
            "MCP_JWT_LEEWAY_SECONDS: Input should be greater than or equal to 0 (got '-1')\n",
        ),
        (
            {"MCP_JWT_ALLOW_NO_EXP": "sometimes"},
            "MCP_JWT_ALLOW_NO_EXP: Input should be a valid boolean, unable to interpret input"
            " (got 'sometimes')\n",
        ),
        (
            {"MCP_JWT_ISSUER": "https://issuer.example"},
            "MCP_JWT_ISSUER/MCP_JWT_AUDIENCE are set but neither MCP_JWT_JWKS_URI nor"
            " MCP_JWT_PUBLIC_KEY is; set one so tokens can be verified\n",
        ),
        (
            {"MCP_JWT_AUDIENCE": "mcp-servers"},
            "MCP_JWT_ISSUER/MCP_JWT_AUDIENCE are set but neither MCP_JWT_JWKS_URI nor"
            " MCP_JWT_PUBLIC_KEY is; set one so tokens can be verified\n",
        ),
        (
            {"MCP_TOOL_GRANTS": '{"todo:read": ["@read-only"]}'},
            "MCP_TOOL_GRANTS is set but neither MCP_JWT_JWKS_URI nor MCP_JWT_PUBLIC_KEY is; it"
            " applies to OAuth access tokens (JWTs) only\n",
        ),
        (
            {"MCP_JWT_JWKS_URI": "http://idp/jwks", "MCP_TOOL_GRANTS": "todo:read=*"},
            "MCP_TOOL_GRANTS: not JSON (Expecting value at character 0) (got 'todo:read=*')\n",
        ),
        (
            {"MCP_JWT_JWKS_URI": "http://idp/jwks", "MCP_TOOL_GRANTS": '["todo_list"]'},
            'MCP_TOOL_GRANTS: must be a JSON object of grant -> tool names, e.g. {"todo:read":'
            ' ["@read-only"]} (got \'["todo_list"]\')\n',
        ),
        (
            {"MCP_JWT_JWKS_URI": "http://idp/jwks", "MCP_TOOL_GRANTS": '{"todo:read": []}'},
            "MCP_TOOL_GRANTS: grant 'todo:read' must list at least one tool name"
            " (got '{\"todo:read\": []}')\n",
        ),
        (
            {
                "MCP_JWT_JWKS_URI": "http://idp/jwks",
                "MCP_JWT_ISSUER": "http://idp",
                "MCP_RESOURCE_URL": "https://todo.example.com/api",
            },
            "MCP_RESOURCE_URL: must be the http(s) URL of this server's /mcp endpoint as clients"
            " reach it, e.g. https://todo.example.com/mcp (got 'https://todo.example.com/api')\n",
        ),
        (
            # The port is out of range: the metadata's URL could not be built from it.
            {
                "MCP_JWT_JWKS_URI": "http://idp/jwks",
                "MCP_JWT_ISSUER": "http://idp",
                "MCP_RESOURCE_URL": "https://todo.example.com:99999/mcp",
            },
            "MCP_RESOURCE_URL: must be the http(s) URL of this server's /mcp endpoint as clients"
            " reach it, e.g. https://todo.example.com/mcp"
            " (got 'https://todo.example.com:99999/mcp')\n",
        ),
        (
            # A token's scopes are split at spaces: it can never hold this one, and a client
            # stepping up to it would ask for "todo" and "read" again and again.
            {"MCP_JWT_JWKS_URI": "http://idp/jwks", "MCP_TOOL_GRANTS": '{"todo read": ["*"]}'},
            "MCP_TOOL_GRANTS: grant 'todo read' is not an OAuth scope (printable ASCII without"
            " spaces, '\"' or '\\'); with MCP_TOOL_GRANTS_CLAIM=scope each grant is a scope a"
            " token carries\n",
        ),
        (
            # It would end the WWW-Authenticate header's quoted scope early.
            {"MCP_JWT_JWKS_URI": "http://idp/jwks", "MCP_JWT_REQUIRED_SCOPES": 'mcp:"access'},
            "MCP_JWT_REQUIRED_SCOPES: 'mcp:\"access' is not an OAuth scope (printable ASCII"
            " without spaces, '\"' or '\\') (got 'mcp:\"access')\n",
        ),
        (
            {"MCP_JWT_JWKS_URI": "http://idp/jwks", "MCP_JWT_ISSUER": "todo-idp"},
            "MCP_JWT_ISSUER: must be the authorization server's http(s) URL, as its tokens'"
            " iss claim holds it, e.g. https://auth.example.com (got 'todo-idp')\n",
        ),
        (
            {"MCP_JWT_JWKS_URI": "http://idp/jwks", "MCP_RESOURCE_URL": "https://t.example/mcp"},
            "MCP_RESOURCE_URL is set without MCP_JWT_ISSUER; the protected-resource metadata"
            " must name the authorization server, which is the issuer\n",
        ),
        (
            {"MCP_REQUEST_STATE_KEYS": "too-short-to-be-a-key"},
            "MCP_REQUEST_STATE_KEYS: key 1 is 21 bytes, each must be at least 32 bytes of secret"
            " randomness (make one with `python -c 'import secrets;"
            " print(secrets.token_hex(32))'`)\n",
        ),
        (
            {"MCP_REQUEST_STATE_KEYS": f"{'k' * 32}, {'n' * 40},{'k' * 32}"},
            "MCP_REQUEST_STATE_KEYS: key 3 repeats key 1\n",
        ),
        (
            {"MCP_RATE_LIMIT_PER_CALLER": "60 a minute"},
            "MCP_RATE_LIMIT_PER_CALLER: must be <count>/<second|minute|hour|day>, e.g. 60/minute"
            " (got '60 a minute')\n",
        ),
        (
            # The limits library reads it, and then refuses every request.
            {"MCP_RATE_LIMIT_PER_SERVER": "0/second"},
            "MCP_RATE_LIMIT_PER_SERVER: a count of 0 would refuse every request; the count must"
            " be at least 1, e.g. 60/minute (got '0/second')\n",
        ),
        (
            # The limits library reads the first and drops the rest.
            {"MCP_RATE_LIMIT_PER_CALLER": "60/minute; 5/second"},
            "MCP_RATE_LIMIT_PER_CALLER: holds 2 limits, and only one applies; set one"
            " <count>/<second|minute|hour|day>, e.g. 60/minute (got '60/minute; 5/second')\n",
        ),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_bad_value_prints_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    expected: str,
) -> None:
    assert start_with(monkeypatch, capsys, **env) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "DATABASE_URL: Input should be a valid URL, relative URL without a base\n"),
        (
            "mysql://admin:hunter2@db:3306/app",
            "DATABASE_URL: URL scheme should be 'postgres' or 'postgresql'\n",
        ),
        (
            # A SQLAlchemy URL: pydantic's PostgresDsn takes it, asyncpg does not.
            "postgresql+asyncpg://admin:hunter2@db:5432/app",
            "DATABASE_URL: URL scheme should be 'postgres' or 'postgresql'\n",
        ),
    ],
)
def test_malformed_database_url_is_named_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, problem: str
) -> None:
    stderr = start_with(monkeypatch, capsys, DATABASE_URL=url)
    assert stderr.startswith(problem)
    assert stderr.count("\n") == 1
    assert "hunter2" not in stderr
    assert url not in stderr


NOT_A_PEM_KEY = (
    "MCP_JWT_PUBLIC_KEY: not a PEM-encoded RSA public key (-----BEGIN PUBLIC KEY-----...);"
    " set the issuer's public key, or MCP_JWT_JWKS_URI instead"
)


@pytest.fixture(scope="module")
def public_key() -> str:
    return RSAKeyPair.generate().public_key


def key_material(pem: str) -> list[str]:
    """The base64 lines of a PEM key, none of which an error message may repeat."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def ec_public_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda pem: "not-a-key", NOT_A_PEM_KEY),
        (lambda pem: pem[: len(pem) // 2], NOT_A_PEM_KEY),
        (lambda pem: pem.replace("A", "*"), NOT_A_PEM_KEY),
        # How a PEM often arrives through a one-line env value or a JSON secret.
        (
            lambda pem: pem.replace("\n", "\\n"),
            f"{NOT_A_PEM_KEY}; it holds literal \\n sequences where line breaks belong",
        ),
        (
            lambda pem: ec_public_key(),
            "MCP_JWT_PUBLIC_KEY: not an RSA key; tokens are verified with RS256, which needs"
            " the issuer's RSA public key",
        ),
    ],
    ids=["garbage", "truncated", "corrupted", "escaped-newlines", "ec-key"],
)
def test_bad_jwt_public_key_is_named_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    public_key: str,
    damage: Callable[[str], str],
    problem: str,
) -> None:
    key = damage(public_key)
    stderr = start_with(monkeypatch, capsys, MCP_JWT_PUBLIC_KEY=key)
    assert stderr == f"{problem}\n"
    assert not [line for line in key_material(key) if line in stderr]


def test_jwt_public_key_formats_fastmcp_verifies_with_are_accepted(
    monkeypatch: pytest.MonkeyPatch, public_key: str
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pkcs1 = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    openssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    for accepted in (public_key, pkcs1.decode(), openssh.decode(), f"\n{public_key}\n"):
        monkeypatch.setenv("MCP_JWT_PUBLIC_KEY", accepted)
        assert load_settings(RuntimeSettings).mcp_jwt_public_key == accepted


def test_process_with_bad_jwt_public_key_exits_2_with_one_line(public_key: str) -> None:
    truncated = public_key[: len(public_key) // 2]
    result = subprocess.run(
        [sys.executable, str(SAMPLE_SERVER)],
        env={**server_env(free_port(), {}), "MCP_JWT_PUBLIC_KEY": truncated},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"{NOT_A_PEM_KEY}\n"
    assert result.stdout == ""


def test_origins_and_hosts_valid_today_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Exact origins as the chart joins them, FastMCP's glob patterns, and its allow-all "*".
    origins = (
        "https://chat.example.com",
        "http://localhost:8001",
        "http://127.0.0.1:8001/",
        "http://[::1]:8001",
        "https://*.example.com",
        "http://localhost:*",
        "*",
    )
    monkeypatch.setenv("MCP_ALLOWED_ORIGINS", ",".join(origins))
    assert load_settings(RuntimeSettings).mcp_allowed_origins == origins
    # Host names, with a port, FastMCP's glob patterns, IP addresses and its allow-all "*".
    hosts = ("todo.example.com", "todo:8001", "*.example.com", "localhost:*", "10.0.0.7")
    hosts += ("[::1]:8001", "my_service", "*")
    monkeypatch.setenv("MCP_ALLOWED_HOSTS", ",".join(hosts))
    assert load_settings(RuntimeSettings).mcp_allowed_hosts == hosts
    for host in ("0.0.0.0", "127.0.0.1", "::", "::1", "localhost", "todo.mcp.svc"):
        monkeypatch.setenv("MCP_HOST", host)
        assert load_settings(RuntimeSettings).mcp_host == host


def test_several_bad_values_still_make_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stderr = start_with(monkeypatch, capsys, MCP_PORT="abc", LOG_LEVEL="loud")
    assert stderr.count("\n") == 1
    assert "MCP_PORT: " in stderr
    assert "LOG_LEVEL: " in stderr


def test_chart_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_PORT", "8001")
    monkeypatch.setenv("MCP_STATELESS", "false")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("MCP_ALLOWED_HOSTS", "todo.mcp.svc, todo.mcp.svc.cluster.local,")
    monkeypatch.setenv("MCP_ALLOWED_ORIGINS", "")
    monkeypatch.setenv("MCP_AUTH_TOKEN", "")
    monkeypatch.setenv("DATABASE_URL", "postgresql://mcp:mcp@127.0.0.1:55432/mcp")
    monkeypatch.setenv("MCP_MAX_REQUEST_BYTES", "1048576")
    monkeypatch.setenv("MCP_HEADER_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("MCP_BODY_TIMEOUT_SECONDS", "12.5")
    monkeypatch.setenv("MCP_MAX_SESSIONS", "200")
    monkeypatch.setenv("MCP_SESSION_IDLE_TIMEOUT_SECONDS", "600")
    monkeypatch.setenv("MCP_JWT_LEEWAY_SECONDS", "30")
    monkeypatch.setenv("MCP_JWT_ALLOW_NO_EXP", "true")
    settings = load_settings(RuntimeSettings)
    assert settings.mcp_port == 8001
    assert settings.mcp_stateless is False
    assert settings.log_level == "warning"
    assert settings.mcp_allowed_hosts == ("todo.mcp.svc", "todo.mcp.svc.cluster.local")
    assert settings.mcp_allowed_origins == ()
    assert settings.mcp_auth_token is None
    assert str(settings.database_url) == "postgresql://mcp:mcp@127.0.0.1:55432/mcp"
    assert settings.mcp_max_request_bytes == 1048576
    assert (settings.mcp_header_timeout_seconds, settings.mcp_body_timeout_seconds) == (5, 12.5)
    assert settings.mcp_max_sessions == 200
    assert settings.mcp_session_idle_timeout_seconds == 600
    assert (settings.mcp_jwt_leeway_seconds, settings.mcp_jwt_allow_no_exp) == (30, True)


def test_limits_default_to_what_a_pod_can_hold() -> None:
    settings = RuntimeSettings()
    assert settings.mcp_max_request_bytes == 4 * 1024 * 1024
    assert (settings.mcp_header_timeout_seconds, settings.mcp_body_timeout_seconds) == (10, 30)
    assert (settings.mcp_max_sessions, settings.mcp_session_idle_timeout_seconds) == (500, 1800)
    assert (settings.mcp_jwt_leeway_seconds, settings.mcp_jwt_allow_no_exp) == (60, False)


def test_server_config_file_is_optional_and_must_be_a_json_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "server-config.json"
    monkeypatch.setenv("MCP_SERVER_CONFIG", str(config))
    assert load_settings(RuntimeSettings).server_config() == {}
    config.write_text('{"pageSize": 50}')
    assert load_settings(RuntimeSettings).server_config() == {"pageSize": 50}
    config.write_text("[1, 2")
    with pytest.raises(SettingsLoadError, match=r"^MCP_SERVER_CONFIG: cannot read .*server-config"):
        load_settings(RuntimeSettings).server_config()
    # What `docker run -v` mounts for a host file that does not exist: its `tools` would be
    # ignored, and every tool served.
    config.unlink()
    config.mkdir()
    with pytest.raises(SettingsLoadError) as refused:
        load_settings(RuntimeSettings).server_config()
    assert str(refused.value) == (
        f"MCP_SERVER_CONFIG: cannot read {config}: [Errno 21] Is a directory: '{config}'"
    )


def test_process_with_bad_port_exits_non_zero_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, str(SAMPLE_SERVER)],
        env={**server_env(free_port(), {}), "MCP_PORT": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "MCP_PORT: Input should be a valid integer, unable to parse string as an integer"
        " (got 'abc')\n"
    )
    assert result.stdout == ""
