"""The ports a server listens on: MCP_PORT, and MCP_METRICS_PORT when /metrics has its own."""

from __future__ import annotations

import socket

from mcp_runtime.settings import RuntimeSettings


class ListenError(Exception):
    """A port could not be bound; the message names its environment variable."""


def _listened_ports(settings: RuntimeSettings) -> dict[str, int]:
    """Each port to listen on, keyed by the environment variable that sets it."""
    ports = {"MCP_PORT": settings.mcp_port}
    if settings.mcp_metrics_port is not None:
        ports["MCP_METRICS_PORT"] = settings.mcp_metrics_port
    return ports


def bound_socket(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """A TCP socket bound to host:port, not listening yet; `shared`: other processes can
    bind it as well (SO_REUSEPORT), for workers serving one port."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def bind_ports(settings: RuntimeSettings, *, shared: bool = False) -> list[socket.socket]:
    """A bound socket for each port to listen on; ListenError names the one that fails."""
    sockets: list[socket.socket] = []
    for variable, port in _listened_ports(settings).items():
        try:
            sockets.append(bound_socket(settings.mcp_host, port, shared=shared))
        except OSError as exc:
            for sock in sockets:
                sock.close()
            # "address already in use", as uvicorn says it, without the errno.
            reason = exc.strerror.lower() if exc.strerror else str(exc)
            raise ListenError(
                f"{variable}: cannot listen on {settings.mcp_host}:{port}: {reason}"
            ) from exc
    return sockets
