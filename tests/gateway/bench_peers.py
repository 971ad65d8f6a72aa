"""`bench/servers.py`, for the tests of the bench's own tools (its load generator, its peers),
and the runtime's echo server it measures, started as the bench starts it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _load_bench() -> ModuleType:
    # Under a name of its own: `servers` is also the directory of our server packages.
    name = "bench_servers"
    if name in sys.modules:
        return sys.modules[name]
    # Last, where it shadows nothing: the modules bench/servers.py imports as its neighbours.
    sys.path.append(str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "servers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@contextmanager
def echo_upstream() -> Iterator[Any]:
    """The bench's "ours": the runtime serving one trivial tool, `echo`."""
    peer = bench.Peer("direct", [sys.executable, str(bench.PEERS / "runtime_echo.py")])
    with bench.started(peer) as server:
        yield server
