"""Client configurations for MCP servers over streamable HTTP, from one list of name=URL.

The one place their shapes live: `make up` (fleet.sh) and `make demo` (demo.sh) print them
from here; the chart's NOTES.txt, a Go template, prints the same shapes
(tests/foundation/test_client_configs.py compares them).

Standard library only, so scripts can call it before any virtualenv exists:
  client_configs.py [--format FORMAT] [--auth] NAME=URL [NAME=URL ...]
FORMAT: claude (.mcp.json, the default), vscode (.vscode/mcp.json), cursor (~/.cursor/mcp.json),
claude-cli (`claude mcp add` lines), all (each under a heading, .mcp.json first).
--auth: the servers want a bearer token; the configs read it from MCP_TOKEN, never inline.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Mapping
from typing import Any

Servers = Mapping[str, str]

TOKEN_ENV = "MCP_TOKEN"
# VS Code asks for the token once and keeps it in its secret storage.
VSCODE_TOKEN_INPUT = "mcp-token"


def _entries(
    servers: Servers, fields: Mapping[str, str], token: str | None
) -> dict[str, dict[str, Any]]:
    """One entry per server: `fields`, its url, and an Authorization header reading `token`."""
    entries: dict[str, dict[str, Any]] = {}
    for name, url in servers.items():
        entry: dict[str, Any] = {**fields, "url": url}
        if token is not None:
            entry["headers"] = {"Authorization": f"Bearer {token}"}
        entries[name] = entry
    return entries


def claude_code(servers: Servers, auth: bool = False) -> dict[str, Any]:
    """Claude Code's project `.mcp.json`; it expands ${VAR} from the environment."""
    token = f"${{{TOKEN_ENV}}}" if auth else None
    return {"mcpServers": _entries(servers, {"type": "http"}, token)}


def vscode(servers: Servers, auth: bool = False) -> dict[str, Any]:
    """VS Code's `.vscode/mcp.json`: servers under `servers`, secrets as prompted inputs."""
    token = f"${{input:{VSCODE_TOKEN_INPUT}}}" if auth else None
    config: dict[str, Any] = {"servers": _entries(servers, {"type": "http"}, token)}
    if auth:
        config["inputs"] = [
            {
                "type": "promptString",
                "id": VSCODE_TOKEN_INPUT,
                "description": "Bearer token of the MCP servers",
                "password": True,
            }
        ]
    return config


def cursor(servers: Servers, auth: bool = False) -> dict[str, Any]:
    """Cursor's `~/.cursor/mcp.json`: a `url` means streamable HTTP; ${env:VAR} is expanded."""
    token = f"${{env:{TOKEN_ENV}}}" if auth else None
    return {"mcpServers": _entries(servers, {}, token)}


def claude_cli(servers: Servers, auth: bool = False) -> list[str]:
    """One `claude mcp add` command per server; the shell expands $MCP_TOKEN when it runs."""
    lines = []
    for name, url in servers.items():
        line = f"claude mcp add --transport http {shlex.quote(name)} {shlex.quote(url)}"
        if auth:
            line += f' --header "Authorization: Bearer ${TOKEN_ENV}"'
        lines.append(line)
    return lines


JsonFormat = Callable[[Servers, bool], dict[str, Any]]
JSON_FORMATS: dict[str, tuple[str, JsonFormat]] = {
    "claude": (".mcp.json (Claude Code)", claude_code),
    "vscode": (".vscode/mcp.json (VS Code)", vscode),
    "cursor": ("~/.cursor/mcp.json (Cursor)", cursor),
}


def render(fmt: str, servers: Servers, auth: bool = False) -> str:
    if fmt == "claude-cli":
        return "\n".join(claude_cli(servers, auth))
    if fmt in JSON_FORMATS:
        return json.dumps(JSON_FORMATS[fmt][1](servers, auth), indent=2)
    if fmt == "all":
        parts = [
            f"{title}:\n{render(key, servers, auth)}" for key, (title, _) in JSON_FORMATS.items()
        ]
        parts.append(f"Claude Code CLI:\n{render('claude-cli', servers, auth)}")
        return "\n\n".join(parts)
    raise ValueError(f"unknown format {fmt!r}")


def parse_servers(pairs: list[str]) -> dict[str, str]:
    servers: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"{pair!r}: expected NAME=URL with an http(s) URL")
        if name in servers:
            raise ValueError(f"{name}: given twice")
        servers[name] = url
    return servers


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="client_configs.py", description=__doc__.split("\n")[0])
    parser.add_argument("--format", default="claude", choices=[*JSON_FORMATS, "claude-cli", "all"])
    parser.add_argument("--auth", action="store_true", help="send Bearer $MCP_TOKEN")
    parser.add_argument("servers", nargs="+", metavar="NAME=URL")
    args = parser.parse_args(argv)
    try:
        servers = parse_servers(args.servers)
    except ValueError as exc:
        print(f"client_configs.py: {exc}", file=sys.stderr)
        return 2
    print(render(args.format, servers, args.auth))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
