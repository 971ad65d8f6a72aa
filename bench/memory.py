"""Benchmark of the memory server: embeddings/s, recall latency over 10,000 memories, startup, RSS.

    uv run python bench/memory.py [--memories 10000] [--recalls 200] [--backend both]

Prints numbers only; it asserts nothing. Baselines measured side by side in the same run:
single-thread numpy GEMM speed (how fast this machine is right now), batch 1 vs batch 32,
one-at-a-time vs concurrent remember calls, the in-process parts of a recall (query
embedding, index search) next to the end-to-end call over HTTP, and recall latency while
the largest remember_many allowed runs next to recall latency with nothing else running
and to the wait the old first-come-first-served batcher imposed (the whole call's embedding).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import numpy as np
import structlog
from fastmcp import Client
from harness.processes import ServerProcess
from mcp_memory.embedder import MODEL_ID, Embedder, packaged_model_files
from mcp_memory.index import VectorIndex
from mcp_memory.models import StoredMemory
from mcp_memory.settings import MemorySettings
from mcp_memory.store import MemoryStore
from mcp_memory.store_postgres import PostgresMemoryStore
from mcp_memory.store_sqlite import SqliteMemoryStore

REPO = Path(__file__).resolve().parent.parent

# Loading the model into a server that has just filled its index from 10,000 memories.
START_TIMEOUT_SECONDS = 300

SUBJECTS = ["The deploy", "Alice", "The billing job", "Our CI", "The cache", "Bob", "The VPN"]
VERBS = ["failed after", "was moved to", "depends on", "needs review before", "replaced"]
OBJECTS = ["the Friday release", "the staging cluster", "the new invoice flow", "the audit"]
PLACES = ["in Lisbon", "on the ops wiki", "during the retro", "in ticket", "for team"]


def corpus(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(PLACES)} {i} ({rng.randint(1, 999)})"
        for i in range(n)
    ]


def long_text(seed: int, chars: int) -> str:
    """Prose-like text of exactly `chars` characters, about 4.5 characters a token."""
    rng = random.Random(seed)
    words = [w for part in SUBJECTS + VERBS + OBJECTS + PLACES for w in part.split()]
    text = ""
    while len(text) < chars:
        text += " ".join(rng.choice(words) for _ in range(40)) + ". "
    return text[:chars]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def gemm_gflops() -> float:
    a = np.random.rand(32, 384).astype(np.float32)
    b = np.random.rand(384, 1536).astype(np.float32)
    a @ b
    started = time.perf_counter()
    for _ in range(200):
        a @ b
    return 2 * 32 * 384 * 1536 * 200 / (time.perf_counter() - started) / 1e9


def bench_embedder(texts: list[str]) -> Embedder:
    embedder = Embedder(packaged_model_files(), "cpu", batch_size=32, threads=0)
    embedder.embed(texts[:32])
    for batch in (1, 32):
        embedder.batch_size = batch
        started = time.perf_counter()
        embedder.embed(texts)
        rate = len(texts) / (time.perf_counter() - started)
        print(f"embed in-process  batch {batch:>2}: {rate:8.1f} texts/s  ({len(texts)} texts)")
    return embedder


class Server(ServerProcess):
    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__([sys.executable, "-m", "mcp_memory"], env, log)

    def start_timed(self) -> tuple[float, float]:
        """Seconds from spawn until /health and until /ready answer 200."""
        self.start()
        health = self.wait_until_answering("/health", {200}, START_TIMEOUT_SECONDS)
        return health, self.wait_ready(timeout=START_TIMEOUT_SECONDS)

    def client(self) -> Client:
        return Client(self.mcp_url, timeout=120)


async def timed_calls(server: Server, calls: list[tuple[str, dict]]) -> list[float]:
    durations = []
    async with server.client() as client:
        for tool, arguments in calls:
            started = time.perf_counter()
            await client.call_tool(tool, arguments)
            durations.append(time.perf_counter() - started)
    return durations


async def bench_remember(server: Server, texts: list[str]) -> None:
    tag = uuid4().hex[:8]
    sequential = await timed_calls(
        server, [("remember", {"text": t, "tags": [tag]}) for t in texts]
    )
    print(f"  remember one at a time : {len(texts) / sum(sequential):8.1f} calls/s")
    async with server.client() as client:
        runs_before = server.metric("mcp_memory_embedding_batch_size_count")
        started = time.perf_counter()
        await asyncio.gather(
            *(client.call_tool("remember", {"text": t, "tags": [tag]}) for t in texts)
        )
        elapsed = time.perf_counter() - started
        runs = server.metric("mcp_memory_embedding_batch_size_count") - runs_before
        print(
            f"  remember {len(texts)} concurrent : {len(texts) / elapsed:8.1f} calls/s "
            f"({runs:.0f} model runs: micro-batched)"
        )
        started = time.perf_counter()
        await client.call_tool(
            "remember_many", {"items": [{"text": t, "tags": [tag]} for t in texts]}
        )
        elapsed = time.perf_counter() - started
        print(f"  remember_many x{len(texts)}     : {len(texts) / elapsed:8.1f} texts/s")
        await client.call_tool("forget", {"tag": tag})


async def fill_store(store: MemoryStore, texts: list[str], vectors: np.ndarray) -> None:
    await store.open(MODEL_ID)
    now = datetime.now(UTC)
    tags = ["alpha", "beta", "gamma", "delta"]
    for start in range(0, len(texts), 1000):
        chunk = texts[start : start + 1000]
        memories = [
            StoredMemory(id=uuid4().hex, text=t, tags=(tags[(start + i) % 4],), created_at=now)
            for i, t in enumerate(chunk)
        ]
        await store.insert(memories, vectors[start : start + len(chunk)])
    await store.close()


def bench_search_in_process(embedder: Embedder, vectors: np.ndarray, queries: list[str]) -> None:
    index = VectorIndex()
    now = datetime.now(UTC)
    index.add(
        [StoredMemory(id=str(i), text="", created_at=now) for i in range(len(vectors))], vectors
    )
    embedder.batch_size = 1
    embed_ms, search_ms = [], []
    for query in queries:
        started = time.perf_counter()
        vector = embedder.embed([query])[0]
        embed_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.search(vector, 5)
        search_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"in-process parts: embed query p50 {percentile(embed_ms, 50):.2f} ms, "
        f"search {len(vectors)} p50 {percentile(search_ms, 50):.3f} ms "
        f"p95 {percentile(search_ms, 95):.3f} ms"
    )


async def bench_backend(
    name: str,
    env: dict[str, str],
    store: MemoryStore,
    texts: list[str],
    vectors: np.ndarray,
    queries: list[str],
    log: Path,
) -> None:
    print(f"== backend {name}")
    empty = Server(env, log)
    health, ready = empty.start_timed()
    rss, _ = rss_mib(empty.pid)
    load = empty.metric("mcp_memory_model_load_seconds")
    print(
        f"  startup, empty store   : /health {health:.2f} s, /ready {ready:.2f} s "
        f"(model load {load:.2f} s), RSS {rss:.0f} MiB"
    )
    await bench_remember(empty, texts[:32])
    empty.stop(timeout=60)

    await fill_store(store, texts, vectors)
    server = Server(env, log)
    health, ready = server.start_timed()
    rss_ready, _ = rss_mib(server.pid)
    print(
        f"  startup, {len(texts)} stored : /health {health:.2f} s, /ready {ready:.2f} s, "
        f"RSS {rss_ready:.0f} MiB"
    )
    await timed_calls(server, [("recall", {"query": q, "k": 5}) for q in queries[:5]])
    for label, extra in (("recall k=5", {}), ("recall k=5 tag", {"tags": ["beta"]})):
        ms = [
            d * 1000
            for d in await timed_calls(
                server, [("recall", {"query": q, "k": 5, **extra}) for q in queries]
            )
        ]
        print(
            f"  {label:<15} over {len(texts)}: p50 {percentile(ms, 50):6.1f} ms, "
            f"p95 {percentile(ms, 95):6.1f} ms ({len(ms)} calls)"
        )
    rss, peak = rss_mib(server.pid)
    print(f"  RSS after recalls      : {rss:.0f} MiB (peak {peak:.0f} MiB)")
    server.stop(timeout=60)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


async def recall_latencies_ms(client: Client, queries: list[str]) -> list[float]:
    latencies = []
    for query in queries:
        started = time.perf_counter()
        await client.call_tool("recall", {"query": query, "k": 5})
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def bench_sharing(embedder: Embedder, queries: list[str], data: Path, log: Path) -> None:
    """Recall latency while the largest remember_many allowed keeps the model busy."""
    defaults = MemorySettings.model_fields
    max_texts = int(defaults["memory_max_texts_per_call"].default)
    max_chars = int(defaults["memory_max_text_chars"].default)
    texts = [long_text(seed, max_chars) for seed in range(max_texts)]
    print(f"== sharing the model: remember_many of {max_texts} texts x {max_chars} chars")
    print(f"  before: {load_average()}")

    # The old batcher embedded a whole call in one go and queued every other caller
    # behind it: a recall arriving with the call waited for all of this.
    embedder.batch_size = 32
    started = time.perf_counter()
    embedder.embed(texts)
    fifo_wait_ms = (time.perf_counter() - started) * 1000

    server = Server({"MCP_DATA_DIR": str(data)}, log)
    server.start_timed()
    try:
        async with server.client() as reader, server.client() as writer:
            await recall_latencies_ms(reader, queries[:5])
            idle = await recall_latencies_ms(reader, queries)
            _, peak_before = rss_mib(server.pid)
            calls: list[float] = []
            stop = asyncio.Event()

            async def remember_many_until_stopped() -> None:
                items = [{"text": t, "tags": ["bulk"]} for t in texts]
                while not stop.is_set():
                    started = time.perf_counter()
                    await writer.call_tool("remember_many", {"items": items})
                    calls.append(time.perf_counter() - started)

            loading = asyncio.create_task(remember_many_until_stopped())
            # Recalls start once the first call's texts are in the model.
            while server.metric("mcp_memory_embedding_waiting_texts") == 0:
                await asyncio.sleep(0.01)
            loaded = await recall_latencies_ms(reader, queries)
            load_during = load_average()
            stop.set()
            await loading
            _, peak_after = rss_mib(server.pid)
    finally:
        server.stop(timeout=60)
    idle_p95, loaded_p95 = percentile(idle, 95), percentile(loaded, 95)
    print(
        f"  recall, model idle          : p50 {percentile(idle, 50):6.1f} ms, "
        f"p95 {idle_p95:6.1f} ms ({len(idle)} calls)"
    )
    print(
        f"  recall, remember_many going : p50 {percentile(loaded, 50):6.1f} ms, "
        f"p95 {loaded_p95:6.1f} ms ({len(loaded)} calls; {loaded_p95 / idle_p95:.1f}x idle)"
    )
    print(
        f"  old FIFO batcher            : a recall waited up to {fifo_wait_ms:8.1f} ms "
        f"(the whole call's embedding; {fifo_wait_ms / loaded_p95:.0f}x today's p95)"
    )
    print(
        f"  remember_many x{max_texts}         : {percentile(calls, 50):.1f} s per call while "
        f"recalls ran ({len(calls)} calls); peak RSS {peak_before:.0f} -> {peak_after:.0f} MiB"
    )
    print(f"  during: {load_during}")


def postgres_url() -> str | None:
    script = REPO / "scripts" / "postgres.sh"
    if subprocess.run(["bash", str(script), "status"], capture_output=True).returncode != 0:
        return None
    return subprocess.run(
        ["bash", str(script), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


async def fresh_database(admin_url: str) -> str:
    import asyncpg

    name = f"memory_bench_{uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(admin_url: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--recalls", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    # The stores log their schema events; the benchmark prints only numbers.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    print(f"machine now: numpy 1-thread GEMM {gemm_gflops():.1f} GFLOP/s, {os.cpu_count()} CPUs")
    texts = corpus(args.memories)
    queries = [f"what happened with {t.split(' ', 3)[1]} {t.rsplit(' ', 2)[1]}" for t in texts]
    queries = random.Random(2).sample(queries, args.recalls)
    embedder = bench_embedder(texts[:256])
    embedder.batch_size = 64
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    elapsed = time.perf_counter() - started
    print(f"embed in-process  batch 64: {len(texts) / elapsed:8.1f} texts/s ({len(texts)} texts)")
    bench_search_in_process(embedder, vectors, queries)

    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        log = Path(tmp) / "server.log"
        await bench_sharing(embedder, queries[:100], Path(tmp) / "sharing", log)
        if args.backend in ("sqlite", "both"):
            data = Path(tmp) / "data"
            await bench_backend(
                "sqlite",
                {"MCP_DATA_DIR": str(data)},
                SqliteMemoryStore(data / "memory.sqlite3"),
                texts,
                vectors,
                queries,
                log,
            )
        if args.backend in ("postgresql", "both"):
            admin = postgres_url()
            if admin is None:
                print("== backend postgresql: not running (make bench starts it)")
                return
            url = await fresh_database(admin)
            try:
                await bench_backend(
                    "postgresql",
                    {"DATABASE_URL": url},
                    PostgresMemoryStore(url),
                    texts,
                    vectors,
                    queries,
                    log,
                )
            finally:
                await drop_database(admin, url)


if __name__ == "__main__":
    asyncio.run(main())
