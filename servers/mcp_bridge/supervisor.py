"""The child's life cycle: start, handshake, serve, notice a crash, restart or give up."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import anyio
import mcp_types
import structlog
from fastmcp import Client
from fastmcp.client.logging import LogMessage
from fastmcp.client.progress import default_progress_handler
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_runtime.app import PACKAGE_VERSION
from mcp_runtime.settings import SettingsLoadError

from mcp_bridge.child import ChildProcess
from mcp_bridge.command import ChildCommand
from mcp_bridge.metrics import BridgeMetrics
from mcp_bridge.restarts import RestartPolicy
from mcp_bridge.settings import BridgeSettings
from mcp_bridge.transport import ChildPipes, ChildTransport

# Exit codes of the bridge when it gives up: a crash loop, or a setting that turned out
# wrong once the child's tools were known (like the runtime's settings errors).
EXIT_CRASH_LOOP = 1
EXIT_BAD_SETTINGS = 2

_log = structlog.get_logger("mcp_bridge.supervisor")


@dataclass(frozen=True)
class Catalog:
    """What one run of the child said about itself."""

    initialize: mcp_types.InitializeResult
    tools: tuple[mcp_types.Tool, ...]


CatalogListener = Callable[[Catalog], Awaitable[None]]


class ChildFailed(Exception):
    """The child could not be brought up; the message is the reason /ready reports."""


def _signal_self() -> None:
    # The runtime's SIGTERM handling drains what is in flight, then the process exits
    # with the supervisor's exit code (see __main__).
    os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    """Runs one child at a time and keeps one FastMCP client connected to it.

    Every client session of the bridge shares that child: the proxy's components borrow
    the connected client (`client_for_call`) rather than spawning a process per request.
    """

    def __init__(
        self,
        command: ChildCommand,
        env: Mapping[str, str],
        settings: BridgeSettings,
        metrics: BridgeMetrics,
        shutdown: Callable[[], None] = _signal_self,
    ) -> None:
        self._command = command
        self._env = dict(env)
        self._settings = settings
        self._metrics = metrics
        self._shutdown = shutdown
        self._policy = RestartPolicy(
            settings.mcp_bridge_restart_backoff_seconds,
            settings.mcp_bridge_restart_backoff_max_seconds,
            settings.mcp_bridge_crash_loop_restarts,
            settings.mcp_bridge_crash_loop_window_seconds,
        )
        self._listeners: list[CatalogListener] = []
        self._child: ChildProcess | None = None
        self._client: Client | None = None
        self._reason: str | None = "the stdio server has not been started yet"
        self._tools_changed = anyio.Event()
        self._stop = anyio.Event()
        self._stopping = False
        self._gave_up = False
        # Whether the current run got through its handshake (RestartPolicy counts failed starts).
        self._run_started = False
        self._finished = anyio.Event()
        self.exit_code = 0

    @property
    def not_ready_reason(self) -> str | None:
        """None while the child serves; otherwise why it does not."""
        return self._reason

    @property
    def child_pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    def on_catalog(self, listener: CatalogListener) -> None:
        """Call `listener` whenever a child has listed its tools (each start, each change)."""
        self._listeners.append(listener)

    def client_for_call(self) -> Client:
        """The connected client of the running child, for a tool call."""
        if self._client is None:
            # A dependency that is down, not a fault of the bridge: logged as a warning.
            raise ToolError(
                self._reason or "the stdio server is not running", log_level=logging.WARNING
            )
        return self._client

    def pipes_for_call(self) -> ChildPipes:
        """The pipes of the running child, for a tool call of the tool relay."""
        transport = self.client_for_call().transport
        # Set once the client connected, which it did before it was handed out.
        assert isinstance(transport, ChildTransport) and transport.pipes is not None
        return transport.pipes

    def client_for_request(self) -> Client:
        """The same for resources and prompts, whose failures are JSON-RPC errors."""
        if self._client is None:
            raise MCPError(
                code=mcp_types.INTERNAL_ERROR, message=self._reason or "the stdio server is down"
            )
        return self._client

    async def run(self) -> None:
        """Start the child and keep it running until `stop` or a crash loop."""
        try:
            while not self._stopping:
                reason = await self._run_child()
                if self._stopping or self._gave_up:
                    break
                self._metrics.child_crashes.inc()
                delay = self._policy.crashed(anyio.current_time(), started=self._run_started)
                if delay is None:
                    self._give_up_crash_loop(reason)
                    break
                self._reason = f"{reason}; restarting it in {delay:g} s"
                _log.warning(
                    "bridge_child_restarting",
                    reason=reason,
                    delay_seconds=delay,
                    crashes_in_window=self._policy.recent_crashes,
                )
                with anyio.move_on_after(delay):
                    await self._stop.wait()
        except Exception as error:
            _log.exception("bridge_supervisor_failed", error=str(error))
            self._give_up(EXIT_CRASH_LOOP, f"the bridge's supervisor failed: {error}")
        finally:
            self._finished.set()

    async def stop(self) -> None:
        """Stop the child (its whole process group) and wait until it is gone."""
        self._stopping = True
        if not self._gave_up:
            self._reason = "the bridge is shutting down"
        self._stop.set()
        if self._child is not None:
            await self._child.stop(self._settings.mcp_bridge_stop_timeout_seconds)
        with anyio.move_on_after(self._settings.mcp_bridge_stop_timeout_seconds + 5):
            await self._finished.wait()

    async def _run_child(self) -> str:
        """One run of the child, from spawn to exit; returns why it ended."""
        self._run_started = False
        try:
            child = await ChildProcess.start(self._command.argv, self._env)
        except OSError as error:
            reason = f"the stdio server could not be started: {error}"
            _log.error("bridge_child_start_failed", reason=reason)
            return reason
        self._child = child
        child.on_exit(self._child_exited)
        if self._stopping:
            # `stop` came while the child was being spawned.
            await child.stop(self._settings.mcp_bridge_stop_timeout_seconds)
            return "the bridge is shutting down"
        self._reason = f"the stdio server (pid {child.pid}) is starting: waiting for initialize"
        _log.info(
            "bridge_child_started",
            pid=child.pid,
            executable=self._command.argv[0],
            arguments=len(self._command.argv) - 1,
        )
        client = self._client_for(child)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(child.watch)
            tasks.start_soon(child.forward_stderr)
            try:
                try:
                    catalog = await self._handshake(client, child)
                except ChildFailed as failure:
                    if not self._stopping:
                        _log.error("bridge_child_start_failed", pid=child.pid, reason=str(failure))
                    return str(failure)
                if not await self._publish(catalog):
                    return "the bridge is giving up"
                self._client = client
                self._reason = None
                self._run_started = True
                self._metrics.child_up.set(1)
                _log.info(
                    "bridge_child_ready",
                    pid=child.pid,
                    server_name=catalog.initialize.server_info.name,
                    server_version=catalog.initialize.server_info.version,
                    protocol_version=catalog.initialize.protocol_version,
                    tools=len(catalog.tools),
                )
                await self._serve(client, child)
                return f"the stdio server exited ({child.exit_description()})"
            finally:
                self._client = None
                self._metrics.child_up.set(0)
                with anyio.CancelScope(shield=True):
                    await child.stop(self._settings.mcp_bridge_stop_timeout_seconds)
                    # `watch` reports the exit (and logs it) within a poll interval.
                    with anyio.move_on_after(1):
                        await child.exited.wait()
                    with anyio.move_on_after(5):
                        await client.close()
                tasks.cancel_scope.cancel()

    def _client_for(self, child: ChildProcess) -> Client:
        return Client(
            ChildTransport(child, self._settings.mcp_bridge_max_message_bytes),
            name="mcp-bridge",
            # The initialize handshake: every stdio server speaks it, and one session of
            # one era serves the bridge's clients of both generations.
            mode="legacy",
            auto_initialize=False,
            # The start-up timeout bounds the handshake as a whole, in _handshake.
            init_timeout=0,
            timeout=self._settings.mcp_bridge_request_timeout_seconds,
            log_handler=self._child_log,
            message_handler=self._child_message,
            # The tool relay (provider.py) sends its calls with this handler too.
            progress_handler=default_progress_handler,
            client_info=mcp_types.Implementation(name="mcp-bridge", version=PACKAGE_VERSION),
        )

    async def _handshake(self, client: Client, child: ChildProcess) -> Catalog:
        timeout = self._settings.mcp_bridge_startup_timeout_seconds
        stage = "initialize"
        try:
            with anyio.fail_after(timeout):
                await client.__aenter__()
                initialize = await client.initialize()
                stage = "tools/list"
                tools = await self._list_tools(client)
        except TimeoutError:
            if child.returncode is not None:
                raise ChildFailed(self._exited_before(child, stage)) from None
            raise ChildFailed(
                f"the stdio server did not answer {stage} within"
                f" MCP_BRIDGE_STARTUP_TIMEOUT_SECONDS={timeout:g} s"
            ) from None
        except Exception as error:
            # A request the child left unanswered by exiting fails before `watch` reports
            # the exit only by a poll interval.
            with anyio.move_on_after(0.5):
                await child.exited.wait()
            if child.returncode is not None:
                raise ChildFailed(self._exited_before(child, stage)) from None
            raise ChildFailed(f"the stdio server's answer to {stage} failed: {error}") from None
        return Catalog(initialize, tools)

    @staticmethod
    def _exited_before(child: ChildProcess, stage: str) -> str:
        return f"the stdio server exited ({child.exit_description()}) before answering {stage}"

    @staticmethod
    async def _list_tools(client: Client) -> tuple[mcp_types.Tool, ...]:
        try:
            return tuple(await client.list_tools())
        except MCPError as error:
            if error.error.code == mcp_types.METHOD_NOT_FOUND:
                return ()
            raise

    async def _serve(self, client: Client, child: ChildProcess) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._follow_tool_changes, client)
            await child.exited.wait()
            tasks.cancel_scope.cancel()

    async def _follow_tool_changes(self, client: Client) -> None:
        while True:
            await self._tools_changed.wait()
            self._tools_changed = anyio.Event()
            assert client.initialize_result is not None
            try:
                tools = await self._list_tools(client)
            except Exception as error:
                _log.warning("bridge_tools_refresh_failed", error=str(error))
                continue
            _log.info("bridge_tools_changed", tools=len(tools))
            await self._publish(Catalog(client.initialize_result, tools))

    async def _publish(self, catalog: Catalog) -> bool:
        """Hand the catalog to the listeners; False when a setting made the bridge give up."""
        try:
            for listener in self._listeners:
                await listener(catalog)
        except SettingsLoadError as error:
            _log.error("bridge_settings_error", error=str(error))
            self._give_up(EXIT_BAD_SETTINGS, str(error))
            return False
        return True

    def _child_exited(self, child: ChildProcess) -> None:
        # Runs the moment the exit is seen: calls stop being handed to the dead child and
        # /ready turns false before anything else happens.
        if self._child is child:
            self._client = None
            self._metrics.child_up.set(0)
            if not (self._stopping or self._gave_up):
                self._reason = (
                    f"the stdio server exited ({child.exit_description()}); restarting it"
                )
        log = _log.info if child.stopped_by_bridge else _log.warning
        log(
            "bridge_child_exited",
            pid=child.pid,
            exit=child.exit_description(),
            returncode=child.returncode,
            stopped_by_bridge=child.stopped_by_bridge,
        )

    async def _child_log(self, message: LogMessage) -> None:
        # MCP's syslog levels, on the bridge's own scale (notice and above error fold in).
        log = {
            "debug": _log.debug,
            "info": _log.info,
            "notice": _log.info,
            "warning": _log.warning,
        }.get(message.level, _log.error)
        log(
            "bridge_child_log",
            pid=self.child_pid,
            child_level=message.level,
            child_logger=message.logger,
            data=message.data,
        )

    async def _child_message(self, message: object) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._tools_changed.set()

    def _give_up_crash_loop(self, last_reason: str) -> None:
        crashes = self._policy.recent_crashes
        window = self._policy.window
        limit = f"MCP_BRIDGE_CRASH_LOOP_RESTARTS={self._policy.max_crashes}"
        if crashes >= self._policy.max_crashes:
            reason = (
                f"the stdio server crashed {crashes} times within {window:g} s ({limit},"
                f" MCP_BRIDGE_CRASH_LOOP_WINDOW_SECONDS={window:g}); the bridge is exiting"
            )
        else:
            reason = (
                f"the stdio server failed to start {self._policy.failed_starts} times in a row"
                f" ({limit}); the bridge is exiting"
            )
        _log.error(
            "bridge_crash_loop",
            crashes=crashes,
            failed_starts_in_a_row=self._policy.failed_starts,
            window_seconds=window,
            last_reason=last_reason,
            exit_code=EXIT_CRASH_LOOP,
            message=reason,
        )
        self._give_up(EXIT_CRASH_LOOP, reason)

    def _give_up(self, exit_code: int, reason: str) -> None:
        self._gave_up = True
        self._reason = reason
        self.exit_code = exit_code
        self._shutdown()
