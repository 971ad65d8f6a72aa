"""The memory server's ANN index at scale: what each search beam costs and how much of the
true top 10 a recall finds with it.

    uv run python bench/memory_index.py [--memories 100000] [--beams 128,256,512,1024]
        [--graph-cache /tmp/memory-index-1m.usearch]

Stores the vectors `bench/memory.py --scale` stores (real embeddings of the standard
library's docstrings, and blends of them) in the server's own `AnnIndex`, then for each
beam answers the same real-text queries the way `recall` does: 4k + 20 candidates from
the graph, re-ranked by their float32 vectors, top 10. Prints recall@10 against exact
search and the search's time per query, next to the peer measured in the same run: the
exact scan of every vector (NumPy), which the index replaced. In process, no
HTTP and no database: `bench/memory.py --scale` measures the whole call. `--connectivity`,
`--expansion-add` and `--dtype` try other graph shapes than the server's. A graph took 18 minutes
to build at a million on two cores, partly beside a CI run; `--graph-cache` keeps it for the next
run (the vectors are made again from their seeds, so the file matches them).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, get_args

import numpy as np
from mcp_memory.embedder import Embedder
from mcp_memory.embedding_models import DEFAULT_MODEL, model_files
from mcp_memory.index import CONNECTIVITY, DTYPE, EXPANSION_ADD, AnnIndex, IndexDtype
from mcp_memory.service import RERANK_EXTRA, RERANK_FACTOR
from memory import SCALE_CHUNK, load_average, percentile, scale_vectors, stdlib_paragraphs

K = 10


def all_scale_vectors(n: int, real: np.ndarray) -> np.ndarray:
    """Exactly the vectors `bench/memory.py --scale n` stores, in memory-number order."""
    return np.concatenate(
        [
            scale_vectors(real, start, min(SCALE_CHUNK, n - start))
            for start in range(0, n, SCALE_CHUNK)
        ]
    )


def exact_top(vectors: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Each query's exact top K, and the scan's time per query (the peer)."""
    top = np.empty((len(queries), K), dtype=np.int64)
    times = []
    for i, query in enumerate(queries):
        started = time.perf_counter()
        scores = vectors @ query
        best = np.argpartition(-scores, K)[:K]
        top[i] = best[np.argsort(-scores[best])]
        times.append((time.perf_counter() - started) * 1000)
    return top, times


def build(vectors: np.ndarray, cache: Path | None, shape: dict[str, Any]) -> AnnIndex:
    index = AnnIndex(**shape)
    if cache and cache.exists():
        index.load(str(cache), {})
        if len(index) == len(vectors):
            print(f"graph loaded from {cache}", flush=True)
            return index
        print(f"{cache} holds {len(index):,} vectors, not {len(vectors):,}: building", flush=True)
        index = AnnIndex(**shape)
    started, cpu = time.perf_counter(), time.process_time()
    keys = np.arange(len(vectors), dtype=np.uint64)
    for start in range(0, len(vectors), 100_000):
        stop = min(start + 100_000, len(vectors))
        threads = os.cpu_count() or 1
        index.add(keys[start:stop], vectors[start:stop], [()] * (stop - start), threads=threads)
        print(
            f"  graph {stop:>9,} ({time.perf_counter() - started:5.0f} s; {load_average()})",
            flush=True,
        )
    print(
        f"graph built in {time.perf_counter() - started:.0f} s wall, "
        f"{time.process_time() - cpu:.0f} s CPU; index {index.memory_bytes() / 2**20:,.0f} MiB",
        flush=True,
    )
    if cache:
        index.save(str(cache))
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--real-texts", type=int, default=6_000)
    parser.add_argument("--beams", default="128,256,512,1024")
    parser.add_argument("--graph-cache", type=Path, help="a file per graph shape")
    parser.add_argument("--connectivity", type=int, default=CONNECTIVITY, help="links a node")
    parser.add_argument("--expansion-add", type=int, default=EXPANSION_ADD, help="build beam")
    parser.add_argument(
        "--dtype",
        choices=get_args(IndexDtype),
        default=DTYPE,
        help="how the graph stores vectors (MEMORY_INDEX_DTYPE)",
    )
    args = parser.parse_args()
    beams = [int(beam) for beam in args.beams.split(",")]

    print(f"== memory index: {args.memories:,} memories; {load_average()}", flush=True)
    paragraphs = stdlib_paragraphs(args.real_texts + args.queries)
    embedder = Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=32, threads=0)
    queries = embedder.embed(paragraphs[: args.queries])
    vectors = all_scale_vectors(args.memories, embedder.embed(paragraphs[args.queries :]))
    truth, scan_ms = exact_top(vectors, queries)
    scan_p50 = percentile(scan_ms, 50)
    print(f"exact scan (peer): p50 {scan_p50:.2f} ms, p95 {percentile(scan_ms, 95):.2f} ms")

    shape = {
        "dtype": args.dtype,
        "connectivity": args.connectivity,
        "expansion_add": args.expansion_add,
    }
    print(f"graph shape: {shape}", flush=True)
    index = build(vectors, args.graph_cache, shape)
    candidates = RERANK_FACTOR * K + RERANK_EXTRA
    for beam in beams:
        index.usearch.expansion_search = beam
        times, hits, shortfalls = [], [], []
        for query, true_top in zip(queries, truth, strict=True):
            started = time.perf_counter()
            keys = np.array([key for key, _ in index.search(query, candidates)], dtype=np.int64)
            times.append((time.perf_counter() - started) * 1000)
            scores = vectors[keys] @ query
            best = np.argsort(-scores, kind="stable")[:K]
            hits.append(len(set(keys[best].tolist()) & set(true_top.tolist())) / K)
            # How much worse the 10th memory found is than the true 10th: a miss among
            # near-ties costs nothing a reader would notice, one far down the list does.
            shortfalls.append(float(vectors[true_top[-1]] @ query - scores[best[-1]]))
        p50 = percentile(times, 50)
        print(
            f"beam {beam:>5}: recall@10 {np.mean(hits):.3f}; search p50 {p50:6.2f} ms, "
            f"p95 {percentile(times, 95):6.2f} ms; {scan_p50 / p50:6.1f}x faster than the scan; "
            f"10th found short of the true 10th by p50 {percentile(shortfalls, 50):.4f}, p95 "
            f"{percentile(shortfalls, 95):.4f} cosine ({load_average()})",
            flush=True,
        )


if __name__ == "__main__":
    main()
