"""What the gateway costs per call: a trivial tool called through `mcp-gateway` against the
same server called directly, side by side in one run.

The upstream is the runtime's echo server (bench/peers/runtime_echo.py, one worker); the
gateway serves it as upstream `echo`, so its tool is `echo_echo`. Both generations of the
protocol, 1, 10 and 100 concurrent sessions, in alternating slices (bench/servers.py's load
generator, one keep-alive connection per session). Neither logs per call (LOG_LEVEL=warning).

- added p50: the gateway's p50 minus the direct p50 (goal: under 1.5 ms);
- calls/s per CPU core: calls per second of server CPU, direct (the upstream's) against through
  the gateway (gateway plus upstream); the gateway keeps this share (goal: at least 70 %).

Those sessions call in a closed loop, each as soon as its last answer came: the two cores are
saturated, and a session's latency is mostly the wait for CPU that the others' calls take
(Little's law: p50 ~ sessions / calls per second). So the same two numbers are also taken in
an open loop: calls start at a fixed rate, as independent callers arrive, whatever pace the
answers come at, at rates up to about what the gateway's path can serve here. Their added p50,
below that, is what the gateway adds to a call on a machine that is not saturated.

The same two numbers for a bare forwarder (bench/peers/bare_forwarder.py: an ASGI app on the
same uvicorn that renames the tool and posts the body on, and nothing else) show the least
any gateway written in Python costs on this machine, next to what `mcp-gateway` costs.

    uv run python bench/gateway.py [--seconds 3] [--rounds 3]

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from dataclasses import dataclass

from servers import (
    CONCURRENCY,
    ECHO,
    PEERS,
    PROTOCOLS,
    Cell,
    LoadAverage,
    Peer,
    Server,
    compile_bytecode,
    errors_noted,
    progress,
    side_by_side,
    started,
)

QUIET = {"LOG_LEVEL": "warning"}
UPSTREAM = "echo"
# Calls per second of the open loop. Through the gateway a call costs 0.8-1.1 ms of CPU in all
# (gateway and upstream) on this machine, so 200 and 500 a second leave the two cores room,
# and 1,000, with the load generator, takes about all of it: where the gateway starts to queue.
RATES = (200, 500, 1000)
# Enough that a call never waits for a free one at these rates unless a front falls behind.
OPEN_LOOP_SESSIONS = 16


@dataclass
class Through:
    """The gateway as the load generator sees it: its port, and the CPU of the gateway and its
    upstream together (a call through the gateway costs both)."""

    gateway: Server
    upstream: Server

    @property
    def port(self) -> int:
        return self.gateway.port

    def cpu_seconds(self) -> float:
        return self.gateway.cpu_seconds() + self.upstream.cpu_seconds()


def per_core(cell: Cell) -> float:
    """Calls per second of server CPU."""
    return 1000 / cell.server_cpu_ms_per_call if cell.server_cpu_ms_per_call else float("nan")


def bench(seconds: float, rounds: int) -> None:
    compile_bytecode()
    table: dict[tuple[str, int], dict[str, Cell]] = {}
    at_rate: dict[tuple[str, int], dict[str, Cell]] = {}
    with ExitStack() as stack, LoadAverage() as load:
        print(f"start: {load.now()}", flush=True)
        upstream = stack.enter_context(
            started(Peer("direct", [sys.executable, str(PEERS / "runtime_echo.py")], QUIET))
        )
        servers = {UPSTREAM: {"url": f"http://127.0.0.1:{upstream.port}/mcp"}}
        gateway = stack.enter_context(
            started(
                Peer(
                    "gateway",
                    [str(PEERS.parent.parent / ".venv" / "bin" / "mcp-gateway")],
                    {**QUIET, "MCP_GATEWAY_SERVERS": json.dumps(servers)},
                )
            )
        )
        forward = [sys.executable, str(PEERS / "bare_forwarder.py"), servers[UPSTREAM]["url"]]
        forwarder = stack.enter_context(
            started(
                Peer(
                    "forwarder",
                    [*forward, UPSTREAM],
                    probe="/ready",
                    statuses=frozenset({404}),
                    port_arg="port",
                )
            )
        )
        namespaced = (f"{UPSTREAM}_{ECHO[0]}", ECHO[1])
        loads = {
            "direct": (upstream, ECHO),
            "gateway": (Through(gateway, upstream), namespaced),
            "forwarder": (Through(forwarder, upstream), namespaced),
        }
        for protocol in PROTOCOLS:
            for sessions in CONCURRENCY:
                table[(protocol, sessions)] = side_by_side(
                    loads,  # type: ignore[arg-type]
                    protocol,
                    sessions,
                    seconds,
                    rounds,
                )
        for protocol in PROTOCOLS:
            for rate in RATES:
                at_rate[(protocol, rate)] = side_by_side(
                    loads,  # type: ignore[arg-type]
                    protocol,
                    OPEN_LOOP_SESSIONS,
                    seconds,
                    rounds,
                    rate=rate,
                )
        print(f"end: {load.now()}")
        print(load.summary())
    print_table(table)
    print_rate_table(at_rate)


def print_table(table: dict[tuple[str, int], dict[str, Cell]]) -> None:
    print()
    print("Trivial tool (`echo`) directly, through the gateway, and through a bare forwarder.")
    print("/s = calls per second; cpu = server CPU ms per call (through: front + upstream);")
    print("+p50 = what the front adds to the median; per core = calls per second of server")
    print("CPU, through/direct.")
    header = (
        f"{'protocol':<11}{'sessions':>8} |{'direct /s':>10}{'p50':>7}{'p95':>7}{'cpu':>6} |"
        f"{'gateway /s':>11}{'p50':>7}{'p95':>7}{'cpu':>6}{'+p50 ms':>8}{'per core':>9} |"
        f"{'forwarder /s':>13}{'cpu':>6}{'+p50 ms':>8}{'per core':>9}"
    )
    print(header)
    print("-" * len(header))
    for (protocol, sessions), cells in table.items():
        direct, through, bare = cells["direct"], cells["gateway"], cells["forwarder"]
        print(
            f"{protocol:<11}{sessions:>8} |{direct.calls_per_second:>10.0f}{direct.p50_ms:>7.1f}"
            f"{direct.p95_ms:>7.1f}{direct.server_cpu_ms_per_call:>6.2f} |"
            f"{through.calls_per_second:>11.0f}{through.p50_ms:>7.1f}{through.p95_ms:>7.1f}"
            f"{through.server_cpu_ms_per_call:>6.2f}{through.p50_ms - direct.p50_ms:>+8.2f}"
            f"{per_core(through) / per_core(direct):>9.0%} |"
            f"{bare.calls_per_second:>13.0f}{bare.server_cpu_ms_per_call:>6.2f}"
            f"{bare.p50_ms - direct.p50_ms:>+8.2f}{per_core(bare) / per_core(direct):>9.0%}"
            + errors_noted(cells)
        )


def print_rate_table(table: dict[tuple[str, int], dict[str, Cell]]) -> None:
    print()
    print(f"The same at a fixed rate (open loop, {OPEN_LOOP_SESSIONS} sessions): calls start on")
    print("schedule, and a call's latency counts from then, waiting for a free session")
    print("included. +p50/+p95 = what the front adds.")
    header = (
        f"{'protocol':<11}{'calls/s':>8} |{'direct p50':>11}{'p95':>7}{'cpu':>6} |"
        f"{'gateway p50':>12}{'p95':>7}{'cpu':>6}{'+p50 ms':>8}{'+p95 ms':>8} |"
        f"{'forwarder p50':>14}{'cpu':>6}{'+p50 ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for (protocol, rate), cells in table.items():
        direct, through, bare = cells["direct"], cells["gateway"], cells["forwarder"]
        print(
            f"{protocol:<11}{rate:>8} |{direct.p50_ms:>11.2f}{direct.p95_ms:>7.2f}"
            f"{direct.server_cpu_ms_per_call:>6.2f} |{through.p50_ms:>12.2f}{through.p95_ms:>7.2f}"
            f"{through.server_cpu_ms_per_call:>6.2f}{through.p50_ms - direct.p50_ms:>+8.2f}"
            f"{through.p95_ms - direct.p95_ms:>+8.2f} |{bare.p50_ms:>14.2f}"
            f"{bare.server_cpu_ms_per_call:>6.2f}{bare.p50_ms - direct.p50_ms:>+8.2f}"
            + errors_noted(cells)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per server per cell")
    parser.add_argument(
        "--rounds", type=int, default=3, help="slices per cell, alternating between the two"
    )
    args = parser.parse_args()
    progress("gateway bench: direct, through mcp-gateway and a bare forwarder, alternating slices")
    bench(args.seconds, args.rounds)


if __name__ == "__main__":
    main()
