"""Settings of the memory server: the runtime's plus the embedding engine's."""

from mcp_runtime import RuntimeSettings
from pydantic import Field

from mcp_memory.embedder import DevicePreference


class MemorySettings(RuntimeSettings):
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
        description="CPU threads per model run; 0 means the CPUs the pod may use.",
    )
    memory_max_text_chars: int = Field(
        default=20_000, ge=1, description="Longest text remember accepts."
    )
