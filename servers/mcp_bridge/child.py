"""One run of the stdio server: a child process in a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence

import anyio
import structlog
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from mcp_bridge import reaper
from mcp_bridge.lines import LineSplitter, LongLine

# How often the exit of the child (and of its group) is looked for. Waiting on the process
# itself would also wait for its pipes to close, which a grandchild can hold open.
_POLL_SECONDS = 0.05
# After SIGKILL the kernel needs a moment before the group is gone (and reaped).
_KILL_WAIT_SECONDS = 2.0
# A line of stderr longer than this is logged cut short; the rest is dropped.
_STDERR_LINE_BYTES = 8192

_log = structlog.get_logger("mcp_bridge.child")


def describe_exit(returncode: int) -> str:
    """`code 3` or `signal SIGKILL`, as Python reports a child killed by a signal."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


class ChildProcess:
    """The child, its pipes and its process group.

    The child leads a new session, so that SIGTERM to the bridge (Kubernetes signals PID 1)
    does not reach it during the drain, and so that stopping it can kill everything it
    started: `stop` signals the whole group and returns once no process of it is left.
    """

    def __init__(self, process: Process) -> None:
        self._process = process
        self.pid = process.pid
        self.exited = anyio.Event()
        self.stop_requested = False
        # Whether the exit was the bridge's doing, as of the moment the exit was seen: a
        # crash stays a crash when the bridge then stops what is left of the group.
        self.stopped_by_bridge = False
        self._exit_callbacks: list[Callable[[ChildProcess], None]] = []
        self._stopped = anyio.Event()
        self._stopping = False

    @classmethod
    async def start(cls, argv: Sequence[str], env: Mapping[str, str]) -> ChildProcess:
        """Spawn `argv`; raises OSError when it cannot be executed."""
        process = await anyio.open_process(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
        reaper.spawned(process.pid)
        return cls(process)

    @property
    def stdin(self) -> ByteSendStream:
        assert self._process.stdin is not None
        return self._process.stdin

    @property
    def stdout(self) -> ByteReceiveStream:
        assert self._process.stdout is not None
        return self._process.stdout

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def exit_description(self) -> str:
        returncode = self.returncode
        return "still running" if returncode is None else describe_exit(returncode)

    def on_exit(self, callback: Callable[[ChildProcess], None]) -> None:
        """Call `callback` as soon as the child is seen to have exited (from `watch`)."""
        self._exit_callbacks.append(callback)

    async def watch(self) -> None:
        """Return once the child has exited, after running the exit callbacks."""
        while self.returncode is None:
            await anyio.sleep(_POLL_SECONDS)
        reaper.reaped_by_loop(self.pid)
        self.stopped_by_bridge = self.stop_requested
        for callback in self._exit_callbacks:
            callback(self)
        self.exited.set()

    async def forward_stderr(self) -> None:
        """Log each line the child writes to stderr as a `bridge_child_stderr` event."""
        stream = self._process.stderr
        assert stream is not None
        splitter = LineSplitter(_STDERR_LINE_BYTES)
        try:
            async for chunk in stream:
                for line in splitter.feed(chunk):
                    self._log_stderr(line)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            return
        for line in splitter.finish():
            self._log_stderr(line)

    def _log_stderr(self, line: bytes | LongLine) -> None:
        if isinstance(line, LongLine):
            text = line.head.decode("utf-8", "replace") + " ..."
            _log.info("bridge_child_stderr", pid=self.pid, line=text, bytes=line.size)
        else:
            _log.info("bridge_child_stderr", pid=self.pid, line=line.decode("utf-8", "replace"))

    async def stop(self, timeout: float) -> None:
        """Stop the child and everything in its process group; idempotent.

        Closing stdin first lets a well-behaved server exit by itself (what the MCP spec
        asks of a client); then the group gets SIGTERM, and SIGKILL after `timeout`.
        """
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        self.stop_requested = True
        try:
            with anyio.CancelScope(shield=True):
                await self._close_pipe(self._process.stdin)
                with anyio.move_on_after(min(timeout, 1.0)):
                    while self.returncode is None:
                        await anyio.sleep(_POLL_SECONDS)
                if not await self._group_gone(0):
                    self._signal_group(signal.SIGTERM)
                    if not await self._group_gone(timeout):
                        self._signal_group(signal.SIGKILL)
                        if not await self._group_gone(_KILL_WAIT_SECONDS):
                            _log.warning("bridge_child_group_survived_sigkill", pid=self.pid)
                await self._close_pipe(self._process.stdout)
                await self._close_pipe(self._process.stderr)
                _close_subprocess_transport(self._process)
        finally:
            self._stopped.set()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    async def _group_gone(self, timeout: float) -> bool:
        """Whether no process of the group is left (zombies included) within `timeout`."""
        with anyio.move_on_after(timeout):
            while True:
                # The leader is reaped by the event loop; orphans by the bridge's reaper.
                reaper.reap_orphans()
                if self.returncode is not None and not _group_exists(self.pid):
                    return True
                await anyio.sleep(_POLL_SECONDS)
        return self.returncode is not None and not _group_exists(self.pid)

    @staticmethod
    async def _close_pipe(stream: object) -> None:
        close = getattr(stream, "aclose", None)
        if close is None:
            return
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await close()


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member that changed its user id still exists.
        return True
    return True


def _close_subprocess_transport(process: Process) -> None:
    """Close asyncio's transport of the process, which would otherwise warn when collected
    while a pipe is still held by a process that escaped the group."""
    transport = getattr(getattr(process, "_process", None), "_transport", None)
    close = getattr(transport, "close", None)
    if callable(close):
        with contextlib.suppress(PermissionError, ProcessLookupError):
            close()
