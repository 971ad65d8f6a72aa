"""Console entry for every server: settings, logging, then uvicorn with a SIGTERM drain."""

from __future__ import annotations

import asyncio
import gc
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NoReturn

import structlog
import uvicorn
from starlette.applications import Starlette
from uvicorn.server import Server as UvicornServer

from mcp_runtime.accepting import AcceptingServer
from mcp_runtime.app import PACKAGE_VERSION, ServerSpec, build_app, lifecycle_of
from mcp_runtime.header_timeout import with_header_timeout
from mcp_runtime.lifecycle import Lifecycle
from mcp_runtime.listening import ListenError, bind_ports
from mcp_runtime.logs import configure_logging
from mcp_runtime.settings import RuntimeSettings, SettingsLoadError, SettingsT, load_settings
from mcp_runtime.tool_selection import select_tools
from mcp_runtime.tracing import start_tracing

# Exit code for a configuration the process cannot start with (like argparse's usage errors).
EXIT_BAD_SETTINGS = 2

# After the drain, connections still open are notification streams (GET) and idle
# keep-alives; they need only a moment to be closed.
_CLOSE_CONNECTIONS_SECONDS = 3

# How long no MCP request must be in flight before the drain ends.
_QUIET_SECONDS = 1.0

_log = structlog.get_logger("mcp_runtime.serve")


def run(create: Callable[[SettingsT], ServerSpec], settings_cls: type[SettingsT]) -> NoReturn:
    """Load settings, build the server from them and serve it until SIGTERM; never returns.

    A bad setting prints one line naming the environment variable to stderr and exits 2.
    """
    metrics_dir = None
    try:
        try:
            settings = load_settings(settings_cls)
            configure_logging(settings.log_level)
            if settings.mcp_workers > 1:
                from mcp_runtime.workers import enable_multiprocess_metrics

                # Before the server and the app make their metrics, so all of them are shared.
                metrics_dir = enable_multiprocess_metrics()
            spec = create(settings)
            # Before build_app, so the tool catalog and metrics see only the selected tools.
            asyncio.run(select_tools(spec.mcp, settings))
        except SettingsLoadError as exc:
            print(exc, file=sys.stderr)
            sys.exit(EXIT_BAD_SETTINGS)
        app = build_app(spec, settings)
        if settings.mcp_workers > 1:
            sys.exit(serve_workers(app, settings, metrics_dir))
        serve(app, settings)
        sys.exit(0)
    finally:
        # However the start ended (a setting, a port in use): a container's /tmp outlives
        # its restarts, and each start would leave its metrics files behind.
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def serve_workers(app: Starlette, settings: RuntimeSettings, metrics_dir: Path | None) -> int:
    """Serve `app` from MCP_WORKERS processes on one port; the exit code (see workers.py)."""
    from mcp_runtime.workers import Workers

    try:
        # Bound without listening, so no connection is routed to them: checks the addresses
        # once, here, rather than in every worker.
        for sock in bind_ports(settings, shared=True):
            sock.close()
    except ListenError as exc:
        print(exc, file=sys.stderr)
        return 1

    def serve_worker(_: int) -> None:
        app.state.metrics.forked()
        serve(app, settings, bind_ports(settings, shared=True))

    return Workers(settings.mcp_workers, serve_worker, metrics_dir).run()


def serve(
    app: Starlette, settings: RuntimeSettings, sockets: list[socket.socket] | None = None
) -> None:
    """Serve `app` on MCP_HOST:MCP_PORT (and MCP_METRICS_PORT), or on `sockets`; return
    after a SIGTERM/SIGINT drain. Exits 1 naming the variable of a port it cannot bind."""
    if sockets is None:
        try:
            sockets = bind_ports(settings)
        except ListenError as exc:
            print(exc, file=sys.stderr)
            sys.exit(1)
    config = uvicorn.Config(
        app,
        host=settings.mcp_host,
        port=settings.mcp_port,
        lifespan="on",
        log_config=None,
        # One structured event per tool call replaces the access log.
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=_CLOSE_CONNECTIONS_SECONDS,
        http=with_header_timeout(
            settings.mcp_header_timeout_seconds, settings.mcp_send_timeout_seconds
        ),
        # MCP has no WebSocket transport; "auto" would import a WebSocket library at start.
        ws="none",
    )
    server = DrainingServer(config, lifecycle_of(app), settings.mcp_drain_timeout_seconds)
    # Here, in the process that serves (each worker after the fork): the exporter's
    # connections and its batch thread cannot be shared across a fork.
    tracing = start_tracing(app.state.server_name, PACKAGE_VERSION)
    server.run(sockets)
    if tracing is not None:
        # Workers leave with os._exit, which skips the SDK's atexit flush.
        tracing.shutdown()


# uvicorn.Server is uvicorn.server.Server, named here so that subclassing it does not load
# uvicorn's command line (mcp_runtime.deferred_imports).
class DrainingServer(UvicornServer):
    """uvicorn.Server that drains in-flight MCP requests before it stops listening.

    On the first SIGTERM or SIGINT /ready turns 503 at once, requests keep being
    served, and the server stops once none has been in flight for a quiet second, or
    when the drain timeout passes. Requests still receiving their body get only a short
    grace period to finish it, so slow clients cannot hold the drain open; connections
    still sending headers are not requests yet and are closed when the server stops.
    Unlike uvicorn it does not re-raise the signal afterwards, so the exit code is 0.
    A second signal skips the rest of the drain; a third skips closing connections.
    """

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_timeout: float) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._drain_timeout = drain_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets is None:
            raise ValueError("DrainingServer serves the sockets serve() binds; none were given")
        # uvicorn's own servers would be uvloop's, which accept one connection per turn of
        # the loop (mcp_runtime.accepting); given no sockets it starts the lifespan alone.
        await super().startup([])
        config = self.config
        loop = asyncio.get_running_loop()

        def serve_connection() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )

        self.servers = [AcceptingServer(sock, serve_connection, config.backlog) for sock in sockets]
        # What start-up loaded (modules, schemas, tools) lives as long as the process. Out of
        # the collector's reach, it no longer makes each full collection a pause of tens of
        # milliseconds for every request in flight, which showed in the tail latency.
        gc.freeze()
        # The servers' __main__ modules pause the collector while that start-up allocates.
        gc.enable()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._lifecycle.draining:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True
            return
        self._lifecycle.begin_drain()
        if self._loop is None:
            self.should_exit = True
            return
        self._loop.call_soon_threadsafe(self._start_drain, signal.Signals(sig).name)

    def _start_drain(self, signal_name: str) -> None:
        # Held so that the event loop's weak reference is not the task's only one.
        self._drain_task = asyncio.create_task(self._drain(signal_name))

    async def _drain(self, signal_name: str) -> None:
        self._lifecycle.body_deadlines.hurry()
        _log.info(
            "drain_started",
            signal=signal_name,
            in_flight=self._lifecycle.in_flight,
            timeout_seconds=self._drain_timeout,
        )
        if await self._lifecycle.wait_quiet(self._drain_timeout, _QUIET_SECONDS):
            _log.info("drain_finished")
        else:
            _log.warning("drain_timed_out", in_flight=self._lifecycle.in_flight)
        self.should_exit = True
