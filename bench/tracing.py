"""What tracing costs per call: the runtime's trivial tool (`echo`, bench/peers/runtime_echo.py)
served by four copies of one server, side by side in one run:

- untraced: this tree's servers/ with the tracing package cut down to a gate that is always
  shut (no SDK, no instrumentation, no hooks): the runtime as if the tracing code had never
  been written, with everything else as it is now, so the peer `off` must match;
- untraced again: `untraced` once more, the control: its ratio is the noise of the run;
- off: this tree, no OTEL_* variables (the default): must cost what `untraced` costs, within
  the control's noise;
- unsampled: tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set) with OTEL_TRACES_SAMPLER=always_off:
  the SDK's no-op spans and the fast path's full mirror, nothing exported;
- exported: tracing on, every call's spans exported over OTLP/gRPC to Jaeger's all-in-one
  (.tools/bin/jaeger-all-in-one; left out when it is not built).

The session-less generation, 1 and 10 sessions, in alternating slices (bench/servers.py's load
generator). cpu = server CPU ms per call; ratio = against `untraced` in the same cell.

    uv run python bench/tracing.py [--seconds 3] [--rounds 3]

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from servers import (
    ECHO,
    PEERS,
    REPO,
    Cell,
    LoadAverage,
    Peer,
    compile_bytecode,
    progress,
    side_by_side,
    started,
)

QUIET = {"LOG_LEVEL": "warning"}
SESSIONS = (1, 10)
PROTOCOL = "2026-07-28"
# The gate every other module asks (mcp_runtime/tracing/__init__.py), always shut.
SHUT_GATE = '''"""bench/tracing.py's `untraced` peer: a runtime without tracing code."""


def tracing_requested(environ=None):
    return False


def tracing_enabled(environ=None):
    return False


def start_tracing(service_name, service_version):
    return None
'''


def untraced_servers(into: Path) -> Path:
    """A copy of servers/ in `into` whose tracing package is only a shut gate."""
    servers = into / "servers"
    shutil.copytree(REPO / "servers", servers, ignore=shutil.ignore_patterns("__pycache__"))
    package = servers / "mcp_runtime" / "tracing"
    shutil.rmtree(package)
    package.mkdir()
    (package / "__init__.py").write_text(SHUT_GATE)
    return servers


def bench(seconds: float, rounds: int) -> None:
    # Imported here, as bench/servers.py does: the harness imports httpx.
    from harness.jaeger import JAEGER_BIN, Jaeger

    compile_bytecode()
    echo = [sys.executable, str(PEERS / "runtime_echo.py")]
    with tempfile.TemporaryDirectory(prefix="bench-tracing-") as tmp, ExitStack() as stack:
        untraced = untraced_servers(Path(tmp))
        peers = [Peer("untraced", echo, {**QUIET, "PYTHONPATH": str(untraced)})]
        # A port nothing listens on: with always_off nothing is ever sent there.
        unsampled = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_TRACES_SAMPLER": "always_off",
        }
        # `untraced again`: the same server as `untraced`, whose ratio is this run's noise.
        peers += [
            Peer("untraced again", echo, {**QUIET, "PYTHONPATH": str(untraced)}),
            Peer("off", echo, QUIET),
            Peer("unsampled", echo, {**QUIET, **unsampled}),
        ]
        if JAEGER_BIN.exists():
            jaeger = stack.enter_context(Jaeger(Path(tmp) / "jaeger"))
            peers.append(Peer("exported", echo, {**QUIET, **jaeger.otel_env("echo")}))
        else:
            progress(
                "no .tools/bin/jaeger-all-in-one (install-tools.sh jaeger): `exported` is left out"
            )
        load = stack.enter_context(LoadAverage())
        print(f"start: {load.now()}", flush=True)
        servers = {peer.name: stack.enter_context(started(peer)) for peer in peers}
        loads = {name: (server, ECHO) for name, server in servers.items()}
        table = {
            sessions: side_by_side(loads, PROTOCOL, sessions, seconds, rounds)  # type: ignore[arg-type]
            for sessions in SESSIONS
        }
        print(f"end: {load.now()}")
        print(load.summary())
    print_table(table)


def print_table(table: dict[int, dict[str, Cell]]) -> None:
    print()
    print(f"Trivial tool (`echo`), {PROTOCOL}. cpu = server CPU ms per call; x = cpu against")
    print(
        "`untraced` (the runtime without the tracing code) in the same cell; /s = calls per second."
    )
    names = list(next(iter(table.values())))
    header = f"{'sessions':>8} |" + "".join(
        f"{name + ' cpu':>15}{'x':>6}{'/s':>7} |" for name in names
    )
    print(header)
    print("-" * len(header))
    for sessions, cells in table.items():
        base = cells.get("untraced")
        row = f"{sessions:>8} |"
        for name in names:
            cell = cells[name]
            ratio = (
                cell.server_cpu_ms_per_call / base.server_cpu_ms_per_call if base else float("nan")
            )
            row += (
                f"{cell.server_cpu_ms_per_call:>15.3f}{ratio:>6.2f}{cell.calls_per_second:>7.0f} |"
            )
        errors = sum(cell.errors for cell in cells.values())
        print(row + (f"  ({errors} errors)" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per server per cell")
    parser.add_argument(
        "--rounds", type=int, default=3, help="slices per cell, taking turns between the servers"
    )
    args = parser.parse_args()
    progress("tracing bench: the runtime without the tracing code, off, unsampled and exported")
    bench(args.seconds, args.rounds)


if __name__ == "__main__":
    main()
