"""Settings come from the chart's environment; a bad value stops the start with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness.processes import free_port, server_env
from mcp_runtime import RuntimeSettings, ServerSpec, SettingsLoadError, load_settings, run
from runtime_harness import SAMPLE_SERVER


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
            {"MCP_AUTH_TOKEN": "t0ken", "MCP_JWT_PUBLIC_KEY": "pem"},
            "MCP_AUTH_TOKEN and a JWT verifier are both set; set only one\n",
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
    settings = load_settings(RuntimeSettings)
    assert settings.mcp_port == 8001
    assert settings.mcp_stateless is False
    assert settings.log_level == "warning"
    assert settings.mcp_allowed_hosts == ("todo.mcp.svc", "todo.mcp.svc.cluster.local")
    assert settings.mcp_allowed_origins == ()
    assert settings.mcp_auth_token is None
    assert str(settings.database_url) == "postgresql://mcp:mcp@127.0.0.1:55432/mcp"


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
