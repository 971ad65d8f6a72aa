"""Side by side: usearch, faiss-cpu and hnswlib as the memory server's ANN index.

    uv run --with usearch==2.26.6 --with faiss-cpu==1.15.1 --with hnswlib==0.8.0 \
        python bench/ann_libraries.py [--vectors 100000] [--queries 500]

Vectors are synthetic but shaped like sentence embeddings (384 dimensions, L2-normalised,
clustered around a few thousand topics, so neighbours are not all equidistant as they are
for uniform noise). For each library: build time, query time (k=10, one thread), recall@10
against exact search, RSS growth, and what filtering and deletion look like. Prints numbers
only; the memory server's choice (usearch) is explained in servers/mcp_memory/README.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

DIMENSIONS = 384
K = 10


def embeddings_like(n: int, seed: int = 7) -> np.ndarray:
    """Topics, subtopics within them, then a little noise: nearest neighbours at cosine
    0.8-0.9 and a spread of distances, as sentence embeddings have (uniform noise would
    make every neighbour equally far and no index can rank ties)."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((max(16, n // 500), DIMENSIONS)).astype(np.float32)
    subtopics = topics[rng.integers(0, len(topics), max(64, n // 20))]
    subtopics += 0.6 * rng.standard_normal(subtopics.shape).astype(np.float32)
    vectors = subtopics[rng.integers(0, len(subtopics), n)]
    vectors += 0.35 * rng.standard_normal((n, DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def exact(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    return np.argsort(-(queries @ data.T), axis=1)[:, :K]


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def run(name: str, build: Callable[[np.ndarray], object], search: Callable, data, queries, truth):
    # CPU seconds as well as wall: on a shared machine the wall time says more about
    # the neighbours than about the library.
    gc.collect()
    before = rss_mib()
    started, cpu = time.perf_counter(), time.process_time()
    index = build(data)
    build_s, build_cpu = time.perf_counter() - started, time.process_time() - cpu
    grown = rss_mib() - before
    found = np.empty((len(queries), K), dtype=np.int64)
    times = []
    cpu = time.process_time()
    for i, query in enumerate(queries):
        t = time.perf_counter()
        found[i] = search(index, query)
        times.append(time.perf_counter() - t)
    query_cpu_ms = (time.process_time() - cpu) / len(queries) * 1000
    ms = np.array(times) * 1000
    print(
        f"{name:<22} build {build_s:6.1f} s wall {build_cpu:6.1f} s CPU | query p50 "
        f"{np.percentile(ms, 50):6.3f} ms p95 {np.percentile(ms, 95):6.3f} ms CPU "
        f"{query_cpu_ms:6.3f} ms | recall@10 {recall_at_k(found, truth):.3f} | "
        f"RSS +{grown:5.0f} MiB",
        flush=True,
    )
    del index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--only", default="usearch,faiss,hnswlib,exact")
    args = parser.parse_args()
    data = embeddings_like(args.vectors)
    # Queries near the data, as a paraphrase is near what it paraphrases.
    queries = data[np.random.default_rng(11).integers(0, len(data), args.queries)]
    # Noise of norm about 0.4: cosine about 0.93 to the vector it started from.
    queries = queries + 0.02 * np.random.default_rng(12).standard_normal(queries.shape)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    truth = exact(data, queries)
    keys = np.arange(len(data), dtype=np.uint64)
    only = args.only.split(",")
    print(
        f"{args.vectors} vectors x {DIMENSIONS}, {args.queries} queries, k={K}, one thread; "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    if "exact" in only:
        run(
            "numpy scan f32",
            lambda d: d,
            lambda i, q: np.argpartition(-(i @ q), K)[:K],
            data,
            queries,
            truth,
        )

    if "usearch" in only:
        from usearch.index import Index

        for dtype in ("f16", "i8"):

            def build(d, dtype=dtype):
                index = Index(
                    ndim=DIMENSIONS,
                    metric="cos",
                    dtype=dtype,
                    connectivity=16,
                    expansion_add=128,
                    expansion_search=96,
                )
                index.add(keys, d, threads=2)
                return index

            run(
                f"usearch 2.26.6 {dtype}",
                build,
                lambda i, q: i.search(q, K, threads=1).keys,
                data,
                queries,
                truth,
            )

    if "faiss" in only:
        import faiss

        faiss.omp_set_num_threads(2)
        for label, factory in (("HNSW16,SQfp16", "HNSW16_SQfp16"), ("HNSW16,SQ8", "HNSW16_SQ8")):

            def build(d, factory=factory):
                index = faiss.index_factory(DIMENSIONS, factory, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = 128
                if not index.is_trained:
                    index.train(d)
                index.add(d)
                index.hnsw.efSearch = 96
                return index

            def search(i, q):
                faiss.omp_set_num_threads(1)
                return i.search(q[None, :], K)[1][0]

            run(f"faiss 1.15.1 {label}", build, search, data, queries, truth)

    if "hnswlib" in only:
        import hnswlib

        def build(d):
            index = hnswlib.Index(space="ip", dim=DIMENSIONS)
            index.init_index(max_elements=len(d), ef_construction=128, M=16)
            index.add_items(d, keys, num_threads=2)
            index.set_ef(96)
            return index

        run(
            "hnswlib 0.8.0 f32",
            build,
            lambda i, q: i.knn_query(q, K, num_threads=1)[0][0],
            data,
            queries,
            truth,
        )


if __name__ == "__main__":
    main()
