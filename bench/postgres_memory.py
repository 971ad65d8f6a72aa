"""Peak memory of the postgres server under hostile queries, next to plain asyncpg.

For each query, a fresh process of each kind: its peak RSS (VmHWM) once idle (connected, one
`SELECT 1` served), then after the query; the growth is what the query cost. Ours is the real
server (mcp-postgres, default limits: 1000 rows, MCP_QUERY_MAX_BYTES 5000000) answering an MCP
`query` call; the peer is the naive approach, `await conn.fetch(sql)` in a bare asyncpg
process, which reads every row whole before anything can look at its size (json and jsonb
decoded by json.loads, as a server answering nested values must decode them). The peer runs
under a 4 GiB address-space limit, so a query that would take more fails there instead of
starving the machine.

    uv run python bench/postgres_memory.py

Goal (issue #12): no query raises our peak more than 64 MiB over idle; values/postgres.yaml
gives the pod 512 MiB. Printed, never asserted.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

from fastmcp import Client
from harness.postgres_script import postgres_script
from harness.processes import ServerProcess

VENV_BIN = Path(sys.executable).parent
QUERIES = (
    "SELECT repeat('x', 150000000)",
    "SELECT repeat('x', 2000000) FROM generate_series(1, 100)",
    "EXPLAIN VERBOSE SELECT repeat('x', 100000000)",
    "SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 1200000)",
)
PEER_ADDRESS_SPACE = 4 << 30

PEER = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    import asyncpg

    def peak_mib():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    async def main(url, sql):
        conn = await asyncpg.connect(url)
        for name in ("json", "jsonb"):
            await conn.set_type_codec(
                name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
        await conn.fetchval("SELECT 1")
        idle = peak_mib()
        try:
            rows = await conn.fetch(sql)
            outcome = f"{len(rows)} row(s)"
        except MemoryError:
            outcome = "MemoryError at the address-space limit"
        print(peak_mib() - idle, outcome, sep="\\t")

    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[3]),) * 2)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def ours(url: str, sql: str) -> tuple[float, str]:
    # Only the statement timeout differs from the defaults: PostgreSQL takes seconds to build
    # these values on a busy machine.
    env = {"DATABASE_URL": url, "MCP_QUERY_TIMEOUT_SECONDS": "120"}
    with ServerProcess([str(VENV_BIN / "mcp-postgres")], env) as server:
        server.wait_ready()
        async with Client(server.mcp_url) as client:
            await client.call_tool("query", {"sql": "SELECT 1"})
            idle = peak_mib(server.pid)
            result = await client.call_tool("query", {"sql": sql}, raise_on_error=False)
            grown = peak_mib(server.pid) - idle
    if result.is_error:
        return grown, "refused: " + " ".join(getattr(b, "text", "") for b in result.content)
    data = result.structured_content or {}
    return grown, f"{data.get('row_count')} row(s), truncated={data.get('truncated')}"


def peer(url: str, sql: str) -> tuple[float, str]:
    done = subprocess.run(
        [sys.executable, "-c", PEER, url, sql, str(PEER_ADDRESS_SPACE)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        return float("nan"), f"failed: {done.stderr.strip().splitlines()[-1]}"
    grown, outcome = done.stdout.strip().split("\t")
    return float(grown), outcome


async def run() -> None:
    postgres_script("start")
    url = postgres_script("reader-url")
    print("Peak RSS growth over idle (VmHWM, MiB), one fresh process per query and kind:")
    print("ours = mcp-postgres with its default limits, via an MCP call;")
    print("naive = await conn.fetch(sql) in a bare asyncpg process.")
    print()
    print("naive/ours counts ours as at least 1 MiB.")
    print()
    header = f"{'query':<66} {'ours':>7} {'naive':>8} {'naive/ours':>10}"
    print(header)
    print("-" * len(header))
    outcomes = []
    for sql in QUERIES:
        our_growth, our_outcome = await ours(url, sql)
        peer_growth, peer_outcome = peer(url, sql)
        ratio = peer_growth / max(our_growth, 1.0)
        print(f"{sql:<66} {our_growth:>7.1f} {peer_growth:>8.1f} {ratio:>9.0f}x")
        outcomes.append((sql, our_outcome, peer_outcome))
    print()
    for sql, our_outcome, peer_outcome in outcomes:
        print(f"{sql}\n  ours:  {our_outcome}\n  naive: {peer_outcome}")
    print()
    print("goal: ours < 64 MiB over idle for every query (the pod's limit is 512 MiB)")


if __name__ == "__main__":
    asyncio.run(run())
