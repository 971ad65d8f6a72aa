"""The embedding model itself: vectors are right, batching does not change them, bad setups fail."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from mcp_memory.embedder import (
    DIMENSIONS,
    MAX_TOKENS,
    Embedder,
    ModelLoadError,
    padding_groups,
    providers_for,
    verify_files,
)
from mcp_memory.embedding_models import DEFAULT_MODEL, model_files
from mcp_memory.engine import EmbeddingEngine
from mcp_memory.errors import NotReady
from mcp_memory.metrics import MemoryMetrics

PARAPHRASES = [
    ("The cat sits on the mat.", "A cat is sitting on a rug."),
    ("How do I reset my password?", "I forgot my password and need to change it."),
    ("The meeting was moved to Friday.", "We rescheduled the meeting for Friday."),
    ("The server ran out of memory and crashed.", "The process died because RAM was exhausted."),
]
UNRELATED = [
    ("The cat sits on the mat.", "Quarterly revenue grew by ten percent."),
    ("How do I reset my password?", "The volcano erupted last night."),
    ("Python is a programming language.", "I like to eat bananas for breakfast."),
    ("The meeting was moved to Friday.", "Photosynthesis turns light into chemical energy."),
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=8, threads=1)


def cosine_pairs(embedder: Embedder, pairs: list[tuple[str, str]]) -> list[float]:
    vectors = embedder.embed([text for pair in pairs for text in pair])
    return [float(vectors[2 * i] @ vectors[2 * i + 1]) for i in range(len(pairs))]


def test_vectors_are_unit_length_384_floats(embedder: Embedder) -> None:
    vectors = embedder.embed(["hello world", "a second, longer sentence about something else"])
    assert vectors.shape == (2, DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_are_close_and_unrelated_sentences_are_not(embedder: Embedder) -> None:
    paraphrase_scores = cosine_pairs(embedder, PARAPHRASES)
    unrelated_scores = cosine_pairs(embedder, UNRELATED)
    assert min(paraphrase_scores) > 0.6, paraphrase_scores
    assert max(unrelated_scores) < 0.3, unrelated_scores


@pytest.mark.parametrize(
    ("lengths", "groups"),
    [
        ([15] * 10, [list(range(10))]),
        ([30, 12, 93, 15, 40, 172, 14], [[1, 6, 3], [0], [4], [2], [5]]),
        ([20, 21, 200, 22], [[0, 1, 3], [2]]),
        ([7], [[0]]),
        ([], []),
    ],
)
def test_texts_of_similar_lengths_share_a_run(lengths: list[int], groups: list[list[int]]) -> None:
    assert padding_groups(lengths) == groups


def test_texts_cut_into_runs_embed_as_in_one_run(embedder: Embedder) -> None:
    texts = ["a short note", "deploy", " ".join(["a much longer text about the release"] * 12)]
    tokens = embedder.tokenize(texts)
    assert len(padding_groups([len(ids) for ids in tokens])) > 1
    grouped = embedder.embed_tokens(tokens)
    alone = np.stack([embedder.embed_tokens([ids])[0] for ids in tokens])
    assert np.min(np.sum(grouped * alone, axis=1)) > 0.9999


def test_batching_and_padding_do_not_change_a_vector(embedder: Embedder) -> None:
    texts = [text for pair in PARAPHRASES + UNRELATED for text in pair]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([text])[0] for text in texts])
    assert np.min(np.sum(together * alone, axis=1)) > 0.9999


def test_one_text_a_run_gives_each_text_its_own_vector_in_input_order() -> None:
    texts = [text for pair in PARAPHRASES + UNRELATED for text in pair]
    by_eight = Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=8, threads=1)
    by_one = Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=1, threads=1)
    one_at_a_time = by_one.embed(texts)
    assert np.allclose(np.linalg.norm(one_at_a_time, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(by_eight.embed(texts) * one_at_a_time, axis=1)) > 0.9999


@pytest.fixture(scope="module")
def two_threads() -> Embedder:
    """Two threads: runs may go to every thread or to the one-thread session."""
    return Embedder(model_files(DEFAULT_MODEL), "cpu", batch_size=8, threads=2)


def test_a_run_on_one_thread_gives_the_vectors_of_a_run_on_every_thread(
    two_threads: Embedder,
) -> None:
    tokens = two_threads.tokenize([text for pair in PARAPHRASES + UNRELATED for text in pair])
    spread = two_threads.embed_tokens(tokens, spread=True)
    serial = two_threads.embed_tokens(tokens, spread=False)
    assert spread.shape == serial.shape == (len(tokens), DIMENSIONS)
    assert np.min(np.sum(spread * serial, axis=1)) > 0.9999


def native_threads_cpu_seconds() -> float:
    """CPU time of this process's threads Python did not start: the model's thread pool.

    Python's own threads (pytest-xdist's channel, a test's leftovers) are left out so their
    work cannot pass for the pool's spinning.
    """
    python_threads = {thread.native_id for thread in threading.enumerate()}
    total = 0
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        if tid in python_threads:
            continue
        # Linux's CPU clock of one thread by its id (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)).
        with contextlib.suppress(OSError):
            total += time.clock_gettime_ns(((~tid) << 3) | 6)
    return total / 1e9


def test_the_model_threads_stop_spinning_when_a_run_ends(two_threads: Embedder) -> None:
    two_threads.embed(["a query of about ten words, run on two threads"])
    before = native_threads_cpu_seconds()
    time.sleep(0.5)
    idle = native_threads_cpu_seconds() - before
    # Without force_spinning_stop the workers spin on for about 35 ms of CPU after a run;
    # the margin is for a stray wake-up on a loaded machine.
    assert idle < 0.02, idle


def test_texts_past_the_token_limit_are_truncated_not_rejected(embedder: Embedder) -> None:
    head = "The deployment failed because the image tag was wrong. "
    long_text = head + "filler words " * (MAX_TOKENS * 2)
    vector = embedder.embed([long_text])[0]
    assert np.isfinite(vector).all()
    cut_at_limit = head + "filler words " * MAX_TOKENS
    assert float(vector @ embedder.embed([cut_at_limit])[0]) > 0.999


@pytest.mark.parametrize(
    "text",
    [
        "The deploy failed, again. " * 800,
        # Words past the tokenizer's 100 characters are one [UNK] each: the head holds
        # too few tokens and the whole text is read.
        ("w" * 150 + " ") * 120,
        "部署失败了因为镜像标签错误。" * 1000,
        "x" * 20_000,
    ],
    ids=["prose", "long-words", "cjk", "no-spaces"],
)
def test_only_the_head_of_a_long_text_is_tokenized_and_the_tokens_are_the_same(
    embedder: Embedder, text: str
) -> None:
    (ids,) = embedder.tokenize([text])
    whole = embedder._tokenizer.encode(text).ids
    assert ids.tolist() == whole
    assert len(ids) <= MAX_TOKENS


def test_a_model_file_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    files = model_files(DEFAULT_MODEL)
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match=r"model\.onnx has sha256 [0-9a-f]{64}, expected"):
        verify_files(dataclasses.replace(files, model=bad))


def test_a_missing_tokenizer_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "tokenizer.json"
    with pytest.raises(ModelLoadError, match=f"cannot read {missing}"):
        verify_files(dataclasses.replace(model_files(DEFAULT_MODEL), tokenizer=missing))


def test_device_choice_follows_the_installed_onnxruntime() -> None:
    assert providers_for("cpu") == ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert providers_for("auto")[0] == "CUDAExecutionProvider"
        assert providers_for("cuda")[0] == "CUDAExecutionProvider"
    else:
        assert providers_for("auto") == ["CPUExecutionProvider"]
        with pytest.raises(ModelLoadError, match="MEMORY_DEVICE=cuda but this onnxruntime has no"):
            providers_for("cuda")


async def test_engine_is_not_ready_until_the_model_has_loaded() -> None:
    engine = EmbeddingEngine(
        model_files(DEFAULT_MODEL), device="cpu", batch_size=8, threads=1, metrics=MemoryMetrics()
    )
    with pytest.raises(NotReady, match="not started"):
        await engine.embed(["x"])
    engine.start()
    try:
        with pytest.raises(NotReady, match="embedding model is loading"):
            await engine.check_ready()
        # embed() waits for the load instead of failing.
        vectors = await engine.embed(["first call waits for the model"])
        assert vectors.shape == (1, DIMENSIONS)
        await engine.check_ready()
    finally:
        await engine.stop()


async def test_concurrent_embeds_share_model_runs() -> None:
    metrics = MemoryMetrics()
    engine = EmbeddingEngine(
        model_files(DEFAULT_MODEL), device="cpu", batch_size=64, threads=1, metrics=metrics
    )
    engine.start()
    try:
        await engine.embed(["warm up"])
        texts = [f"memory number {i} about topic {i % 7}" for i in range(40)]
        results = await asyncio.gather(*(engine.embed([t]) for t in texts))
        runs = metrics.registry.get_sample_value("mcp_memory_embedding_batch_size_count")
        assert runs is not None and runs < 1 + len(texts), "no two calls shared a run"
        expected = engine.embedder.embed(texts)  # type: ignore[union-attr]
        for got, want in zip(results, expected, strict=True):
            assert float(got[0] @ want) > 0.9999
    finally:
        await engine.stop()


async def test_engine_reports_a_failed_load_on_ready_and_on_use(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"truncated download")
    engine = EmbeddingEngine(
        dataclasses.replace(model_files(DEFAULT_MODEL), model=bad),
        device="cpu",
        batch_size=8,
        threads=1,
        metrics=MemoryMetrics(),
    )
    engine.start()
    try:
        with pytest.raises(NotReady, match=r"embedding model failed to load: .*model\.onnx has"):
            await engine.embed(["x"])
        with pytest.raises(NotReady, match="embedding model failed to load"):
            await engine.check_ready()
    finally:
        await engine.stop()
