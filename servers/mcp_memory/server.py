"""Build the memory server from settings: an embedding engine and a store behind MCP tools."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastmcp import FastMCP
from mcp_runtime import PACKAGE_VERSION, ServerSpec, SettingsLoadError

from mcp_memory.cache import IndexOptions
from mcp_memory.cpus import available_cpus
from mcp_memory.embedder import ModelLoadError, providers_for
from mcp_memory.embedding_models import model_files
from mcp_memory.engine import EmbeddingEngine
from mcp_memory.metrics import MemoryMetrics
from mcp_memory.service import MemoryService
from mcp_memory.settings import MemorySettings
from mcp_memory.store import make_store
from mcp_memory.tools import register_tools

INSTRUCTIONS = (
    "Long-term semantic memory. remember stores texts (with optional tags and metadata); "
    "recall finds the ones closest in meaning to a query, with similarity scores; forget "
    "deletes by id or by tag; stats counts them."
)


def build_service(settings: MemorySettings, *, parallel_runs: bool = False) -> MemoryService:
    """The memory service the settings describe; raises SettingsLoadError naming the variable.

    `parallel_runs`: model runs go one per CPU thread at once, for the most texts a second
    when no recall waits behind them (a bulk import)."""
    try:
        # A device this build cannot serve is a setting error: refuse before serving.
        providers_for(settings.memory_device)
    except ModelLoadError as exc:
        raise SettingsLoadError(str(exc)) from None
    files = model_files(settings.memory_model)
    if not files.model.is_file():
        raise SettingsLoadError(
            f"MEMORY_MODEL={settings.memory_model}: {files.model} is missing; derive it with "
            "`python -m mcp_memory.model_derivation` (extra memory-model-build), as `make venv` "
            "and the memory image do"
        )
    database_url = str(settings.database_url) if settings.database_url else None
    index_dir = settings.index_dir()
    if index_dir.exists() and not index_dir.is_dir():
        raise SettingsLoadError(f"MEMORY_INDEX_DIR: {index_dir} exists and is not a directory")
    metrics = MemoryMetrics()
    engine = EmbeddingEngine(
        files,
        device=settings.memory_device,
        batch_size=settings.memory_batch_size,
        threads=settings.memory_inference_threads,
        metrics=metrics,
        tokens_per_run=settings.memory_tokens_per_run,
        parallel_runs=parallel_runs,
    )
    return MemoryService(
        make_store(database_url, settings.mcp_data_dir),
        engine,
        metrics,
        max_text_chars=settings.memory_max_text_chars,
        max_texts_per_call=settings.memory_max_texts_per_call,
        index_options=index_options(settings),
    )


def create(settings: MemorySettings) -> ServerSpec:
    service = build_service(settings)
    metrics = service.metrics
    mcp = FastMCP("memory", instructions=INSTRUCTIONS, version=PACKAGE_VERSION)
    register_tools(mcp, service)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    return ServerSpec(
        mcp=mcp,
        readiness_checks=[service.embedding_model, service.database, service.memory_index],
        lifespan=lifespan,
        collectors=[metrics.registry],
    )


def index_options(settings: MemorySettings) -> IndexOptions:
    return IndexOptions(
        dtype=settings.memory_index_dtype,
        connectivity=settings.memory_index_connectivity,
        expansion_search=settings.memory_index_expansion_search,
        snapshot_dir=settings.index_dir(),
        snapshot_min_changes=settings.memory_snapshot_min_changes,
        snapshot_interval_seconds=settings.memory_snapshot_interval_seconds,
        tombstone_retention_seconds=settings.memory_tombstone_retention_seconds,
        sync_interval_seconds=settings.memory_sync_interval_seconds,
        build_threads=settings.memory_inference_threads or available_cpus(),
    )
