"""Benchmark of the memory server: embeddings/s, recall latency over 10,000 memories, startup, RSS.

    uv run python bench/memory.py [--memories 10000] [--recalls 200] [--backend both]
    uv run python bench/memory.py --scale 1000000 [--keep DIR]   # the issue-21 goals, SQLite

`--scale N` stores N memories through the store API (real embeddings of real texts, the
Python standard library's docstrings, plus synthetic vectors around them), then prints
start to ready (rebuild, then from the snapshot), RSS at ready, recall latency over HTTP
at 1 session with the store's pages out of the kernel's page cache (as after a restart)
and in it (as when it has been answering a while), and at 10 sessions, recall@10 against
exact search, bulk import speed on real texts, and embedding speed next to raw ONNX
Runtime with the same session options. Without it,
bulk import speed on real texts is measured too, next to raw ONNX Runtime on the same texts.

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
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import numpy as np
import structlog
from fastmcp import Client
from harness.processes import ServerProcess
from mcp_memory.bulk_import import IMPORT_TOKENS_PER_RUN
from mcp_memory.embedder import Embedder, session_options
from mcp_memory.embedding_models import DEFAULT_MODEL, DYNAMIC_INT8, ModelId, model_files
from mcp_memory.index import AnnIndex
from mcp_memory.models import StoredMemory
from mcp_memory.scheduler import FairQueue
from mcp_memory.settings import MemorySettings
from mcp_memory.store import MemoryStore
from mcp_memory.store_postgres import PostgresMemoryStore
from mcp_memory.store_sqlite import SqliteMemoryStore

from servers import Session

REPO = Path(__file__).resolve().parent.parent

# Loading the model into a server that has just filled its index from 10,000 memories.
START_TIMEOUT_SECONDS = 300
# The label of the Embedder's own rate in the embedding table.
EMBEDDER = "mcp_memory Embedder"

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


MODELS: tuple[ModelId, ...] = (DEFAULT_MODEL, DYNAMIC_INT8)


def bench_embedder(texts: list[str], model: ModelId = DEFAULT_MODEL) -> Embedder:
    embedder = Embedder(model_files(model), "cpu", batch_size=32, threads=0)
    embedder.embed(texts[:32])
    for batch in (1, 32):
        embedder.batch_size = batch
        started = time.perf_counter()
        embedder.embed(texts)
        rate = len(texts) / (time.perf_counter() - started)
        print(
            f"embed in-process  batch {batch:>2}: {rate:8.1f} texts/s ({len(texts)} texts, {model})"
        )
    return embedder


class Server(ServerProcess):
    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__([sys.executable, "-m", "mcp_memory"], env, log)

    def start_timed(self, timeout: float = START_TIMEOUT_SECONDS) -> tuple[float, float]:
        """Seconds from spawn until /health and until /ready answer 200."""
        self.start()
        health = self.wait_until_answering("/health", {200}, timeout)
        return health, self.wait_ready(timeout=timeout)

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
    await store.open(DEFAULT_MODEL)
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
    index = AnnIndex()
    index.add(np.arange(len(vectors), dtype=np.uint64), vectors, [()] * len(vectors), threads=2)
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


def stdlib_paragraphs(limit: int) -> list[str]:
    """Real English: paragraphs of the standard library's docstrings, read with ast (no
    module is imported), deduplicated, in a fixed order."""
    import ast
    import sysconfig

    seen: dict[str, None] = {}
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if "test" in path.parts or "idlelib" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if not isinstance(
                node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            ):
                continue
            for paragraph in (ast.get_docstring(node) or "").split("\n\n"):
                text = " ".join(paragraph.split())
                if 60 <= len(text) <= 800 and sum(c.isalpha() for c in text) > len(text) * 0.7:
                    seen[text] = None
                    if len(seen) >= limit:
                        return list(seen)
    return list(seen)


def raw_session(threads: int, spinning_between_ops: bool = True, model: ModelId = DEFAULT_MODEL):
    """A bare ONNX Runtime session of `model` with the Embedder's options, or with its threads
    sleeping between operators, as they did before (`spinning_between_ops=False`)."""
    import onnxruntime as ort

    options = session_options(threads, spinning=spinning_between_ops)
    return ort.InferenceSession(
        str(model_files(model).model),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )


def padded_feeds(chunks: list[list[np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Model inputs, a run per chunk of tokenized texts, each padded to its longest."""
    feeds = []
    for chunk in chunks:
        width = max(len(t) for t in chunk)
        ids = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, t in enumerate(chunk):
            ids[row, : len(t)], mask[row, : len(t)] = t, 1
        feeds.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids})
    return feeds


def sorted_feeds(tokens: list[np.ndarray], batch: int) -> list[dict[str, np.ndarray]]:
    """Model inputs for tokenized texts, all sorted by length, `batch` rows a run: the
    least padding any batching of them can have."""
    ordered = sorted(tokens, key=len)
    return padded_feeds([ordered[start : start + batch] for start in range(0, len(ordered), batch)])


def import_runs(tokens: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Model inputs for tokenized texts cut into the runs the import's batcher cuts (its
    FairQueue, at the import's padded tokens a run and the default texts a run)."""
    queue: FairQueue[str] = FairQueue(
        tokens_per_run=IMPORT_TOKENS_PER_RUN,
        max_rows=MemorySettings.model_fields["memory_batch_size"].default,
    )
    queue.add("import", [len(t) for t in tokens])
    chunks = []
    while shares := queue.take_run():
        chunks.append([tokens[i] for share in shares for i in share.indices])
    return padded_feeds(chunks)


def runs_per_second(session, feeds: list[dict[str, np.ndarray]], texts: int, at_once: int) -> float:
    """Texts a second embedding `feeds`, `at_once` runs at a time from as many threads."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        for _ in pool.map(lambda feed: session.run(None, feed), feeds):
            pass
    return texts / (time.perf_counter() - started)


def bench_import(embedder: Embedder, texts: list[str], workdir: Path, model: ModelId) -> float:
    """`python -m mcp_memory import` of real texts with `model` (MEMORY_MODEL), next to the
    peer: raw ONNX Runtime running that model on the same texts the same way (sorted by length
    over the whole set, cut into runs by the import's rule, one per thread at once on a session
    of one thread), and, as the import ran before, one run at a time on every thread. The
    import cannot beat the model it runs. Returns the import's memories a second."""
    source = workdir / "real.jsonl"
    source.write_text("".join(json.dumps({"text": t, "tags": ["docs"]}) + "\n" for t in texts))
    started = time.perf_counter()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mcp_memory", "import", str(source)),
            *("--checkpoint", str(workdir / f"import-{model}.checkpoint")),
        ],
        env={**os.environ, "MCP_DATA_DIR": str(workdir / f"import-{model}"), "MEMORY_MODEL": model},
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    summary = result.stderr.strip().splitlines()[-1]
    imported = float(summary.rsplit("(", 1)[1].split("/s")[0])
    feeds = import_runs(embedder.tokenize(texts))
    raw = runs_per_second(raw_session(1, model=model), feeds, len(texts), embedder.threads)
    one_at_a_time = runs_per_second(
        raw_session(embedder.threads, model=model), feeds, len(texts), 1
    )
    print(f"  bulk import, {len(texts)} real texts, MEMORY_MODEL={model}: {summary}")
    print(
        f"    raw ORT the same way: {raw:.0f}/s; the import at {imported / raw:.2f}x of it "
        f"(process wall {elapsed:.1f} s with model load; {load_average()})"
    )
    print(
        f"    raw ORT one run at a time on {embedder.threads} threads: {one_at_a_time:.0f}/s "
        f"({raw / one_at_a_time:.2f}x slower than runs at once)"
    )
    return imported


def bench_model_agreement(texts: list[str], queries: int = 500, k: int = 10) -> None:
    """How alike the two models' answers are on real texts: for `queries` of them, the share
    of the top-`k` neighbours (among all `texts`) both models find, and the cosine between
    each text's two vectors."""
    vectors = {}
    for model in MODELS:
        embedder = Embedder(model_files(model), "cpu", batch_size=32, threads=0)
        vectors[model] = embedder.embed(texts)
    picked = random.Random(3).sample(range(len(texts)), min(queries, len(texts)))
    neighbours = {}
    for model, matrix in vectors.items():
        sims = matrix[picked] @ matrix.T
        sims[np.arange(len(picked)), picked] = -2.0  # a text is not its own neighbour
        neighbours[model] = np.argsort(-sims, axis=1)[:, :k]
    shared = np.mean(
        [
            len(set(a) & set(b)) / k
            for a, b in zip(neighbours[DEFAULT_MODEL], neighbours[DYNAMIC_INT8], strict=True)
        ]
    )
    cosines = np.sum(vectors[DEFAULT_MODEL] * vectors[DYNAMIC_INT8], axis=1)
    print(
        f"  {DYNAMIC_INT8} vs {DEFAULT_MODEL}, {len(texts)} real texts: top-{k} neighbours "
        f"shared {shared:.3f} ({len(picked)} queries); cosine of a text's two vectors "
        f"median {np.median(cosines):.4f}, min {cosines.min():.4f}"
    )


def bench_embedding_ratio(embedder: Embedder, texts: list[str], rounds: int = 7) -> None:
    """Embedder.embed (tokenizing and pooling included) next to bare session.run on the
    same pre-tokenized, length-sorted batches, with the same session options; best of
    `rounds`, alternating, so that a noisy neighbour hurts both alike, and the median of the
    rounds' own ratios (each round's Embedder against that round's bare run), which a
    burst of load in one round cannot move."""
    tokens = embedder.tokenize(texts)
    for batch in (1, 32):
        feeds = sorted_feeds(tokens, batch)
        sessions = {
            "raw ORT, same options": raw_session(embedder.threads, model=embedder.model_id),
            "raw ORT, no spinning ": raw_session(embedder.threads, False, embedder.model_id),
        }
        taken: dict[str, list[float]] = {label: [] for label in [*sessions, EMBEDDER]}
        for _ in range(rounds):
            for label, session in sessions.items():
                started = time.perf_counter()
                for feed in feeds:
                    session.run(None, feed)
                taken[label].append(len(texts) / (time.perf_counter() - started))
            embedder.batch_size = batch
            started = time.perf_counter()
            embedder.embed(texts)
            taken[EMBEDDER].append(len(texts) / (time.perf_counter() - started))
        base = taken["raw ORT, same options"]
        for label, rates in taken.items():
            paired = statistics.median(rate / peer for rate, peer in zip(rates, base, strict=True))
            print(
                f"  embed batch {batch:>2} {label:<22}: {max(rates):7.1f} texts/s "
                f"({max(rates) / max(base):.2f}x raw ORT with the Embedder's options; "
                f"median of {rounds} rounds {paired:.2f}x)"
            )


def synthetic_near(real: np.ndarray, start: int, count: int) -> np.ndarray:
    """What `--scale` stores besides the real texts: blends of three real embeddings plus a
    little noise, sentence-like vectors in the same region of the space that do not pile
    up as near-copies around any one real text (a hundred copies of each would turn every
    query's top 10 into a tie). Seeded by `start`, so a chunk can be made again."""
    rng = np.random.default_rng(start)
    weights = rng.dirichlet([1.0, 1.0, 1.0], count).astype(np.float32)
    picks = rng.integers(0, len(real), (count, 3))
    rows = np.einsum("nk,nkd->nd", weights, real[picks])
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    rows = rows + 0.02 * rng.standard_normal(rows.shape).astype(np.float32)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def scale_vectors(real: np.ndarray, start: int, count: int) -> np.ndarray:
    """The vectors of `--scale`'s memories start .. start + count - 1: the real texts' own
    embeddings come first (memory i < len(real) is real text i), then `synthetic_near`."""
    vectors = synthetic_near(real, start, count)
    real_here = max(0, min(count, len(real) - start))
    vectors[:real_here] = real[start : start + real_here]
    return vectors


SCALE_TAGS = ("alpha", "beta", "gamma", "delta")
SHORT_QUERY_WORDS = 10
# The session-based generation, which every client speaks today.
BARE_CLIENT_PROTOCOL = "2025-11-25"
SCALE_CHUNK = 20_000


def scale_memory(i: int, real_texts: list[str]) -> StoredMemory:
    text = real_texts[i] if i < len(real_texts) else f"synthetic memory {i}"
    tags = (SCALE_TAGS[i % 4], "rare") if i % 1000 == 0 else (SCALE_TAGS[i % 4],)
    return StoredMemory(id=f"m{i}", text=text, tags=tags, created_at=datetime.now(UTC))


async def fill_scale(
    store: MemoryStore, n: int, real_texts: list[str], real_vectors: np.ndarray, queries: np.ndarray
) -> np.ndarray:
    """Store n memories; return each query's exact top 10 (memory numbers)."""
    await store.open(DEFAULT_MODEL)
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    started = time.perf_counter()
    for start in range(0, n, SCALE_CHUNK):
        count = min(SCALE_CHUNK, n - start)
        vectors = scale_vectors(real_vectors, start, count)
        await store.insert([scale_memory(start + i, real_texts) for i in range(count)], vectors)
        scores = queries @ vectors.T
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate(
            [best_ids, np.broadcast_to(np.arange(start, start + count), scores.shape)], axis=1
        )
        top = np.argsort(-merged_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_ids = np.take_along_axis(merged_ids, top, axis=1)
        if (start // SCALE_CHUNK) % 10 == 0:
            rate = (start + count) / (time.perf_counter() - started)
            print(f"  filled {start + count:>8} ({rate:,.0f}/s; {load_average()})", flush=True)
    await store.close()
    return best_ids


async def concurrent_recalls_ms(
    server: Server, queries: list[str], sessions: int, extra: dict, through_fastmcp: bool = False
) -> tuple[list[float], list[list[str]]]:
    """Recall latencies over HTTP from `sessions` concurrent sessions, and what each query found.

    The sessions are the bench's bare HTTP client (bench/servers.py), as in the servers' bench:
    FastMCP's Client spends milliseconds of its own CPU on each call, on the two cores the
    server uses too, and a real agent's client runs on another machine. `through_fastmcp`
    measures with FastMCP's Client instead, to show what that costs.
    """
    latencies: list[float] = []
    found: list[list[str]] = [[] for _ in queries]

    async def one_session(part: int) -> None:
        async with recall_session(server, through_fastmcp) as call:
            for i in range(part, len(queries), sessions):
                started = time.perf_counter()
                structured = await call({"query": queries[i], **extra})
                latencies.append((time.perf_counter() - started) * 1000)
                found[i] = [m["id"] for m in structured["memories"]]

    await asyncio.gather(*(one_session(p) for p in range(sessions)))
    return latencies, found


@asynccontextmanager
async def recall_session(
    server: Server, through_fastmcp: bool
) -> AsyncIterator[Callable[[dict], Awaitable[dict]]]:
    """A session's `recall` call: arguments in, structured content out."""
    if through_fastmcp:
        async with server.client() as client:

            async def fastmcp_recall(arguments: dict) -> dict:
                result = await client.call_tool("recall", arguments)
                return result.structured_content

            yield fastmcp_recall
        return
    session = Session(server.port, BARE_CLIENT_PROTOCOL)
    await session.open()
    try:

        async def bare_recall(arguments: dict) -> dict:
            result = await session.call_tool("recall", arguments)
            if result.get("isError"):
                raise RuntimeError(f"recall failed: {result['content']}")
            return result["structuredContent"]

        yield bare_recall
    finally:
        await session.close()


async def print_one_session_recalls(
    server: Server, kinds: Sequence[tuple[str, list[str], np.ndarray]], *, scored: bool
) -> None:
    """Recall latency from 1 session for each kind of query (label, queries, their true top
    10), and with `scored` how much of the true top 10 the recalls found."""
    for label, texts, true_top in kinds:
        ms, found = await concurrent_recalls_ms(server, texts, 1, {"k": 10})
        line = (
            f"  recall k=10, 1 session, {label:<17}: p50 {percentile(ms, 50):6.1f} ms, "
            f"p95 {percentile(ms, 95):6.1f} ms"
        )
        if scored:
            hits = [
                len(set(f) & {f"m{i}" for i in t}) / 10
                for f, t in zip(found, true_top.tolist(), strict=True)
            ]
            line += f"; recall@10 vs exact {np.mean(hits):.3f}"
        print(line)


def store_files(data: Path) -> list[Path]:
    """The SQLite store's files under a server's data directory (the index is not read
    from them: a snapshot is loaded whole at start)."""
    return sorted(data.glob("memory.sqlite3*"))


def evict_from_page_cache(data: Path) -> int:
    """Ask the kernel to drop the store's clean pages from its cache; the bytes asked for."""
    total = 0
    for path in store_files(data):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        total += path.stat().st_size
    return total


def read_through_page_cache(data: Path) -> float:
    """Read the store's files once, as a server that has been answering a while has them
    cached; the seconds it took."""
    started = time.perf_counter()
    for path in store_files(data):
        with path.open("rb") as file:
            while file.read(1 << 24):
                pass
    return time.perf_counter() - started


def truth_file(workdir: Path, n: int, real: int, recalls: int) -> Path:
    """Where a kept scale run stores its queries' exact top 10."""
    return workdir / f"truth-{n}-{real}-{recalls}.npy"


def unusable_keep(keep: Path, n: int, real: int, recalls: int) -> str | None:
    """Why `--keep DIR` cannot be used, or None: a store without its truth file is what a
    run that stopped before its index was built leaves."""
    truth = truth_file(keep, n, real, recalls)
    if (keep / "data").exists() and not truth.exists():
        return f"--keep: {keep} holds a store without {truth.name}; remove it to start again"
    return None


async def fill_and_rebuild(
    n: int,
    embedder: Embedder,
    real_texts: list[str],
    queries: list[str],
    data: Path,
    env: dict[str, str],
    log: Path,
) -> np.ndarray:
    """Fill the store with n memories, start a server to build its index (and snapshot it),
    and return each query's exact top 10."""
    real_vectors = embedder.embed(real_texts)
    query_vectors = embedder.embed(queries)
    started = time.perf_counter()
    truth = await fill_scale(
        SqliteMemoryStore(data / "memory.sqlite3"), n, real_texts, real_vectors, query_vectors
    )
    print(f"  store filled through the store API in {time.perf_counter() - started:.0f} s")
    server = Server(env, log)
    # Building the graph takes minutes at a million on two cores.
    _, ready = server.start_timed(timeout=max(START_TIMEOUT_SECONDS, n / 100))
    rss, peak = rss_mib(server.pid)
    print(
        f"  start to ready, rebuilding the index : {ready:6.1f} s "
        f"(RSS {rss:.0f} MiB, peak {peak:.0f})"
    )
    server.stop(timeout=120)
    return truth


async def bench_scale(n: int, recalls: int, real: int, ratio: bool, keep: Path | None) -> None:
    print(f"== scale: {n:,} memories on SQLite; {load_average()}", flush=True)
    paragraphs = stdlib_paragraphs(real + recalls)
    query_texts, real_texts = paragraphs[:recalls], paragraphs[recalls:]
    embedder = Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=32, threads=0)
    if ratio:
        bench_embedding_ratio(embedder, real_texts[:256])
    embedder.batch_size = 32
    # A paragraph is a long query (40 tokens on average, up to 247); a question put to a
    # memory is more often a few words, which embed in a third of the time.
    short_texts = [" ".join(text.split()[:SHORT_QUERY_WORDS]) for text in query_texts]
    with tempfile.TemporaryDirectory(prefix="memory-scale-") as tmp:
        workdir = keep or Path(tmp)
        data = workdir / "data"
        log = workdir / "server.log"
        env = {"MCP_DATA_DIR": str(data)}
        kept_truth = truth_file(workdir, n, real, recalls)
        if kept_truth.exists():
            truth = np.load(kept_truth)
            print(f"  reusing the store and index snapshot kept in {workdir}")
        else:
            truth = await fill_and_rebuild(
                n, embedder, real_texts, query_texts + short_texts, data, env, log
            )
            if keep is not None:
                np.save(kept_truth, truth)

        kinds = (
            ("paragraph queries", query_texts, truth[:recalls]),
            (f"{SHORT_QUERY_WORDS}-word queries", short_texts, truth[recalls:]),
        )
        # Each run starts with the store out of the page cache, so that the first recalls
        # read their rows from disk as after a node's restart, whatever ran before.
        evicted = evict_from_page_cache(data)
        server = Server(env, log)
        _, ready = server.start_timed()
        rss, _ = rss_mib(server.pid)
        print(f"  start to ready, from the snapshot    : {ready:6.1f} s ({load_average()})")
        print(f"  RSS at ready                         : {rss:6.0f} MiB")
        try:
            await concurrent_recalls_ms(server, query_texts[:5], 1, {"k": 10})
            print(f"  1 session, the store's {evicted / 2**20:,.0f} MiB out of the page cache:")
            await print_one_session_recalls(server, kinds, scored=True)
            seconds = read_through_page_cache(data)
            print(f"  1 session, the store read into the page cache first ({seconds:.1f} s):")
            await print_one_session_recalls(server, kinds, scored=False)
            ms, _ = await concurrent_recalls_ms(server, short_texts, 1, {"k": 10}, True)
            print(
                f"  recall k=10, 1 session, {SHORT_QUERY_WORDS}-word queries, through FastMCP's "
                f"Client: p50 {percentile(ms, 50):6.1f} ms, p95 {percentile(ms, 95):6.1f} ms"
            )
            for label, extra in (("tag 25%", {"tags": ["beta"]}), ("tag 0.1%", {"tags": ["rare"]})):
                ms, _ = await concurrent_recalls_ms(server, query_texts, 1, {"k": 10, **extra})
                print(
                    f"  recall k=10 {label:<9}    : p50 {percentile(ms, 50):6.1f} ms, "
                    f"p95 {percentile(ms, 95):6.1f} ms"
                )
            for label, texts, _ in kinds:
                ms, _ = await concurrent_recalls_ms(server, texts, 10, {"k": 10})
                print(
                    f"  recall k=10, 10 sessions, {label:<17}: p50 {percentile(ms, 50):6.1f} "
                    f"ms, p95 {percentile(ms, 95):6.1f} ms ({load_average()})"
                )
            rss, peak = rss_mib(server.pid)
            print(f"  RSS after recalls        : {rss:.0f} MiB (peak {peak:.0f} MiB)")
        finally:
            server.stop(timeout=120)

        for model in MODELS:
            bench_import(embedder, real_texts, Path(tmp), model)


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
    parser.add_argument("--scale", type=int, default=0, help="only the N-memory scale bench")
    parser.add_argument("--real-texts", type=int, default=6_000, help="real texts in --scale")
    parser.add_argument("--no-ratio", action="store_true", help="--scale without embed vs raw ORT")
    parser.add_argument("--import-texts", type=int, default=6_000, help="real texts to import")
    parser.add_argument(
        "--keep",
        type=Path,
        help="--scale: keep the store and its index snapshot in this directory, and reuse them "
        "when it has them (skips filling and the rebuild)",
    )
    args = parser.parse_args()
    if args.keep is not None:
        if not args.scale:
            parser.error("--keep: only with --scale")
        if reason := unusable_keep(args.keep, args.scale, args.real_texts, args.recalls):
            parser.error(reason)
    # The stores log their schema events; the benchmark prints only numbers.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.scale:
        await bench_scale(args.scale, args.recalls, args.real_texts, not args.no_ratio, args.keep)
        return

    print(f"machine now: numpy 1-thread GEMM {gemm_gflops():.1f} GFLOP/s, {os.cpu_count()} CPUs")
    texts = corpus(args.memories)
    queries = [f"what happened with {t.split(' ', 3)[1]} {t.rsplit(' ', 2)[1]}" for t in texts]
    queries = random.Random(2).sample(queries, args.recalls)
    for model in (DYNAMIC_INT8, DEFAULT_MODEL):
        embedder = bench_embedder(texts[:256], model)
        bench_embedding_ratio(embedder, texts[:256])
    embedder.batch_size = 64
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    elapsed = time.perf_counter() - started
    print(f"embed in-process  batch 64: {len(texts) / elapsed:8.1f} texts/s ({len(texts)} texts)")
    bench_search_in_process(embedder, vectors, queries)

    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        print(f"== bulk import and the models; {load_average()}")
        real = stdlib_paragraphs(args.import_texts)
        rates = {model: bench_import(embedder, real, Path(tmp), model) for model in MODELS}
        print(
            f"  {DYNAMIC_INT8} imports at {rates[DYNAMIC_INT8] / rates[DEFAULT_MODEL]:.2f}x "
            f"{DEFAULT_MODEL}'s rate ({load_average()})"
        )
        bench_model_agreement(real)
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
