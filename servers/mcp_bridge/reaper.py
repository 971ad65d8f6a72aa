"""Reap the child's orphans: the bridge adopts them, so no zombie outlives its stop.

A grandchild whose parent (the stdio server) dies is re-parented to the nearest "child
subreaper", which the bridge makes itself; in a container the bridge is PID 1 and adopts
every orphan anyway. Either way nobody else would wait for them, and they would linger as
zombies. The event loop waits for the children it spawned itself; the reaper leaves those
alone and collects the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from pathlib import Path

import structlog

_PR_SET_CHILD_SUBREAPER = 36

_log = structlog.get_logger("mcp_bridge.reaper")

# Children the event loop spawned and waits for: reaping one would steal its exit status.
_spawned: set[int] = set()
_enabled = False


def become_subreaper() -> None:
    """Adopt orphaned descendants and start reaping them (the bridge's own process only:
    in a test process it would steal other children's exit statuses)."""
    global _enabled
    _enabled = True
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as error:
        # Orphans then go to PID 1 of the container or machine, which reaps them there.
        _log.warning("bridge_subreaper_unavailable", error=str(error))


def spawned(pid: int) -> None:
    _spawned.add(pid)


def reaped_by_loop(pid: int) -> None:
    _spawned.discard(pid)


def reap_orphans() -> None:
    """Collect every exited child the event loop does not wait for; never blocks."""
    if not _enabled:
        return
    for pid in _children():
        if pid in _spawned:
            continue
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _children() -> set[int]:
    pids: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{os.getpid()}/task").iterdir())
    except OSError:
        return pids
    for task in tasks:
        try:
            pids.update(int(pid) for pid in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return pids
