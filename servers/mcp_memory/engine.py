"""Loads the embedder in the background and serves micro-batched embeddings once it is up."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import structlog

from mcp_memory.batcher import EmbeddingBatcher
from mcp_memory.embedder import MAX_TOKENS, DevicePreference, Embedder
from mcp_memory.embedding_models import ModelFiles, ModelId
from mcp_memory.errors import NotReady
from mcp_memory.metrics import MemoryMetrics

log = structlog.get_logger(__name__)

# A CPU thread embeds about 1,000 tokens a second (256 in 0.12 s on two threads), so
# 128 tokens per thread keeps a run near 0.1 s: all a recall waits for behind a large call.
CPU_TOKENS_PER_THREAD = 128
# On a GPU, what one run held before runs were capped (32 texts of 256 tokens): a GPU
# gets through that far faster than a CPU, and smaller runs would only add overhead.
CUDA_TOKENS_PER_RUN = 32 * MAX_TOKENS


def tokens_per_run(embedder: Embedder) -> int:
    """Padded tokens per model run that keep one run short on this device."""
    if embedder.device == "cuda":
        return CUDA_TOKENS_PER_RUN
    return max(MAX_TOKENS, CPU_TOKENS_PER_THREAD * embedder.threads)


class EmbeddingEngine:
    """Owns the model: `start` loads it in a thread and returns at once.

    Loading takes about a second on CPU and longer with CUDA; meanwhile /health
    answers and `check_ready` (behind /ready) reports the model as loading.
    """

    def __init__(
        self,
        model_files: ModelFiles,
        *,
        device: DevicePreference,
        batch_size: int,
        threads: int,
        metrics: MemoryMetrics,
        tokens_per_run: int = 0,
        parallel_runs: bool = False,
    ) -> None:
        self._model_files = model_files
        # Whether runs go one per CPU thread at once (a bulk import) instead of one at a time.
        self._parallel_runs = parallel_runs
        self._device = device
        self._batch_size = batch_size
        self._tokens_per_run = tokens_per_run
        self._threads = threads
        self._metrics = metrics
        self._loading: asyncio.Task[Embedder] | None = None
        self._batcher: EmbeddingBatcher | None = None
        self.embedder: Embedder | None = None

    @property
    def model_id(self) -> ModelId:
        return self._model_files.id

    def start(self) -> None:
        self._loading = asyncio.create_task(self._load(), name="load-embedding-model")

    async def stop(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            await asyncio.gather(self._loading, return_exceptions=True)
        if self._batcher is not None:
            await self._batcher.stop()

    async def check_ready(self) -> None:
        """Raise NotReady while the model loads or after it failed to load."""
        if self._loading is None or not self._loading.done():
            raise NotReady("embedding model is loading")
        if self._loading.cancelled():
            raise NotReady("embedding model loading was cancelled")
        if (error := self._loading.exception()) is not None:
            raise NotReady(f"embedding model failed to load: {error}")

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`; waits for the model if it is still loading."""
        if self._loading is None:
            raise NotReady("embedding model is not started")
        try:
            await asyncio.shield(self._loading)
        except Exception as exc:
            raise NotReady(f"embedding model failed to load: {exc}") from exc
        assert self._batcher is not None
        return await self._batcher.embed(texts)

    async def _load(self) -> Embedder:
        started = time.perf_counter()
        log.info(
            "embedding_model_loading",
            model=self.model_id,
            file=str(self._model_files.model),
            device=self._device,
        )
        try:
            embedder = await asyncio.to_thread(
                Embedder,
                self._model_files,
                self._device,
                batch_size=self._batch_size,
                threads=self._threads,
            )
        except Exception as exc:
            log.error("embedding_model_failed", error=str(exc), error_type=type(exc).__name__)
            raise
        seconds = time.perf_counter() - started
        self._metrics.model_loaded(self.model_id, embedder.device, embedder.provider, seconds)
        run_tokens = self._tokens_per_run or tokens_per_run(embedder)
        runs_at_once = embedder.threads if self._parallel_runs and embedder.device == "cpu" else 1
        log.info(
            "embedding_model_loaded",
            device=embedder.device,
            execution_provider=embedder.provider,
            threads=embedder.threads,
            tokens_per_run=run_tokens,
            runs_at_once=runs_at_once,
            load_seconds=round(seconds, 3),
        )
        self._batcher = EmbeddingBatcher(
            embedder.tokenize,
            embedder.embed_tokens,
            tokens_per_run=run_tokens,
            max_texts_per_run=self._batch_size,
            on_run=self._metrics.embedded,
            on_waiting=self._metrics.waiting_texts.set,
            runs_at_once=runs_at_once,
        )
        self._batcher.start()
        self.embedder = embedder
        return embedder
