"""Several worker processes serving one port (MCP_WORKERS), for a pod given several cores.

One Python process uses about one core. With MCP_WORKERS=N the process builds the app
once (imports, tools, schemas), then forks N workers, each serving it on its own
SO_REUSEPORT socket, so the kernel spreads incoming connections over them; what the
parent built before the fork is shared copy-on-write. Each worker runs the app's lifespan
(pools, models) and the usual SIGTERM drain by itself.

The parent only supervises: SIGTERM or SIGINT is passed on to every worker, which drains
and exits; the parent exits 0 once all of them have exited 0. A worker that dies
while nothing asked it to stops the others and the parent exits 1, so Kubernetes restarts
the pod rather than serving on with fewer workers than asked for.

Metrics are kept in prometheus-client's multiprocess mode, in a directory made at start
and removed at exit, so /metrics adds up the calls of all workers (metrics.py).
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import structlog
from prometheus_client import values

_log = structlog.get_logger("mcp_runtime.workers")

_FORWARDED = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1


def enable_multiprocess_metrics() -> Path:
    """Keep every metric made from now on in files under a fresh PROMETHEUS_MULTIPROC_DIR.

    Call before the server and its app make their metrics. prometheus-client picks where
    values live when it is imported, which the runtime already is, hence the value class.
    """
    directory = Path(tempfile.mkdtemp(prefix="mcp-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.MultiProcessValue()
    return directory


class Workers:
    """Forks `count` workers, each running `serve_worker(index)`, and supervises them."""

    def __init__(
        self, count: int, serve_worker: Callable[[int], None], metrics_dir: Path | None
    ) -> None:
        self._count = count
        self._serve_worker = serve_worker
        self._metrics_dir = metrics_dir
        self._workers: dict[int, int] = {}  # pid -> worker index
        self._stopping = False

    def run(self) -> int:
        """Serve until every worker has exited; the process's exit code."""
        failed = False
        previous = {sig: signal.signal(sig, self._forward) for sig in _FORWARDED}
        # What the parent built stays untouched by the workers' collectors, so their
        # copy-on-write pages stay shared.
        gc.freeze()
        try:
            for index in range(self._count):
                self._start(index)
            if self._metrics_dir is not None:
                _forget_own_gauges(self._metrics_dir)
            _log.info("workers_started", workers=self._count, pids=sorted(self._workers))
            while self._workers:
                pid, status = os.wait()
                index = self._workers.pop(pid, None)
                if index is None:
                    continue
                code = os.waitstatus_to_exitcode(status)
                if not self._stopping:
                    _log.error("worker_exited", worker=index, pid=pid, exit_code=code)
                    failed = True
                    self._stop_all(signal.SIGTERM)
                elif code != 0:
                    _log.warning("worker_failed", worker=index, pid=pid, exit_code=code)
                    failed = True
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._metrics_dir is not None:
                shutil.rmtree(self._metrics_dir, ignore_errors=True)
        _log.info("workers_stopped", exit_code=int(failed))
        return int(failed)

    def _start(self, index: int) -> None:
        parent = os.getpid()
        # Blocked across the fork, so a signal cannot reach the child while it still has
        # the parent's handler (and its list of the other workers).
        signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
        try:
            # A SIGTERM that came while the workers before it started: they have it passed
            # on, and a worker started now would never get it.
            if self._stopping:
                return
            pid = os.fork()
            if pid == 0:
                self._run_worker(index, parent)
            # Listed before the signals are let through: one that came during the fork is
            # passed on to this worker too.
            self._workers[pid] = index
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)

    def _run_worker(self, index: int, parent: int) -> None:
        code = 1
        try:
            for sig in _FORWARDED:
                signal.signal(sig, signal.SIG_DFL)
            # Out of the parent's process group: a terminal's Ctrl-C reaches the parent
            # only, which passes it on once (a second signal would cut the drain short).
            os.setpgid(0, 0)
            _die_with(parent)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
            structlog.contextvars.bind_contextvars(worker=index)
            self._serve_worker(index)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            _log.exception("worker_crashed", worker=index)
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _forward(self, signum: int, _: FrameType | None) -> None:
        self._stopping = True
        self._stop_all(signal.Signals(signum))

    def _stop_all(self, sig: signal.Signals) -> None:
        self._stopping = True
        for pid in self._workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _forget_own_gauges(metrics_dir: Path) -> None:
    """Remove this process's gauge files: the supervisor serves nothing, and gauges made
    before the fork (a server's own, in `create`) keep in them the values they had then,
    which /metrics would add to the workers' for ever (a series of the supervisor's pid held
    at 0, or a minimum or most recent value of 0). Each worker keeps gauges in its own files.
    """
    for path in metrics_dir.glob(f"gauge_*_{os.getpid()}.db"):
        path.unlink(missing_ok=True)


def _die_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when the parent dies (Linux), so that a
    SIGKILLed parent leaves no worker serving on."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)
