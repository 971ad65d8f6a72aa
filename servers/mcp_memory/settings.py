"""Settings of the memory server: the runtime's plus the embedding engine's."""

from pathlib import Path

from mcp_runtime import RuntimeSettings
from pydantic import Field, field_validator

from mcp_memory.embedder import MAX_TOKENS, DevicePreference
from mcp_memory.embedding_models import DEFAULT_MODEL, ModelId
from mcp_memory.index import (
    BEAM_MEMORIES,
    CONNECTIVITY,
    DTYPE,
    EXPANSION_SEARCH,
    MAX_EXPANSION_SEARCH,
    MIN_EXPANSION_SEARCH,
    IndexDtype,
)

# A pinned beam below this finds too few of a query's neighbours to be worth searching.
LEAST_PINNED_BEAM = 16


class MemorySettings(RuntimeSettings):
    memory_model: ModelId = Field(
        default=DEFAULT_MODEL,
        description=(
            "The embedding model: all-MiniLM-L6-v2-int8 (float32 arithmetic), or "
            "all-MiniLM-L6-v2-dynamic-int8 (mostly int8 arithmetic: 1.5-1.6x the texts a "
            "second on a CPU, top-10 neighbours 0.93 the same as float32's, against 0.98). A "
            "database keeps the model that filled it and refuses another."
        ),
    )
    memory_device: DevicePreference = Field(
        default="auto", description="cuda, cpu, or auto (CUDA when a GPU is usable)."
    )
    memory_batch_size: int = Field(
        default=32, ge=1, le=1024, description="Most texts per model run."
    )
    memory_inference_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "CPU threads of a model run while no other call overlaps it (overlapping calls' "
            "runs take one); 0 means the CPUs the pod may use."
        ),
    )
    # The model reads only the first 256 tokens (about 1,200 characters of English);
    # the rest is stored and returned but costs no model time.
    memory_max_text_chars: int = Field(
        default=20_000, ge=1, le=1_000_000, description="Longest text a call may carry."
    )
    # A call's embedding time grows with its texts: 64 texts of 256 tokens take about
    # 8 s on two cores, well inside the 20 s a rollout waits for calls to drain.
    memory_max_texts_per_call: int = Field(
        default=64, ge=1, le=4096, description="Most texts remember_many takes at once."
    )
    memory_tokens_per_run: int = Field(
        default=0,
        ge=0,
        le=1_048_576,
        description=(
            "Padded tokens per model run; a recall waits for at most one run. "
            "0 sizes it to the device: 128 per CPU thread, 8192 on a GPU."
        ),
    )

    memory_index_dtype: IndexDtype = Field(
        default=DTYPE,
        description=(
            "How the ANN index stores vectors in RAM: i8 (384 bytes each), f16 or f32. "
            "Recall re-ranks candidates by the float32 vectors in the database."
        ),
    )
    # A snapshot of another shape is rebuilt, once, at start: at a million memories that
    # takes about 16 minutes on two cores, so a large store may keep its shape.
    memory_index_connectivity: int = Field(
        default=CONNECTIVITY,
        ge=4,
        le=128,
        description=(
            "HNSW links a node: more finds more true neighbours at the same beam, for "
            "about 8 bytes a memory per link and a slower build."
        ),
    )
    # None (`auto` in the environment): the beam follows the index's size.
    memory_index_expansion_search: int | None = Field(
        default=None,
        description=(
            f"HNSW search beam, {LEAST_PINNED_BEAM} to {MAX_EXPANSION_SEARCH}, or `auto` (the "
            "default): higher finds more true neighbours, slower. `auto` follows the index's "
            f"size: {EXPANSION_SEARCH} at {BEAM_MEMORIES:,} memories, in proportion to the size "
            f"otherwise, at least {MIN_EXPANSION_SEARCH}."
        ),
    )
    memory_index_dir: Path | None = Field(
        default=None,
        description=(
            "Where index snapshots are kept (a volume, so a restart loads instead of "
            "rebuilding); default $MCP_DATA_DIR/index."
        ),
    )
    memory_snapshot_min_changes: int = Field(
        default=10_000,
        ge=1,
        description="Memories stored or forgotten since the last snapshot that make a new one.",
    )
    memory_snapshot_interval_seconds: float = Field(
        default=600.0,
        ge=1.0,
        description="Longest time a change waits to be in a snapshot.",
    )
    # A tombstone must outlive every replica's and snapshot's view of it: a replica syncs
    # every few seconds, so only one down longer than this (or an older snapshot) misses
    # one, and that is detected (its mark is below the pruned one) and rebuilt.
    memory_tombstone_retention_seconds: float = Field(
        default=7 * 86_400.0,
        ge=60.0,
        description="Age at which forgotten memories' tombstones are deleted.",
    )
    memory_sync_interval_seconds: float = Field(
        default=5.0,
        gt=0.0,
        le=3600.0,
        description="How often an idle replica pulls others' changes into its index.",
    )

    def index_dir(self) -> Path:
        return self.memory_index_dir or self.mcp_data_dir / "index"

    @field_validator("memory_index_expansion_search", mode="before")
    @classmethod
    def _beam_or_auto(cls, value: object) -> int | None:
        if value is None or value == "auto":
            return None
        try:
            beam = int(str(value))
        except ValueError:
            beam = 0
        if not LEAST_PINNED_BEAM <= beam <= MAX_EXPANSION_SEARCH:
            raise ValueError(
                f"must be auto or a whole number from {LEAST_PINNED_BEAM} to {MAX_EXPANSION_SEARCH}"
            )
        return beam

    @field_validator("memory_tokens_per_run")
    @classmethod
    def _one_text_fits(cls, value: int) -> int:
        if 0 < value < MAX_TOKENS:
            raise ValueError(
                f"must be 0 (sized to the device) or at least {MAX_TOKENS}, the tokens of one text"
            )
        return value
