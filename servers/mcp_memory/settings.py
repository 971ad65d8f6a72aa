"""Settings of the memory server: the runtime's plus the embedding engine's."""

from mcp_runtime import RuntimeSettings
from pydantic import Field, field_validator

from mcp_memory.embedder import MAX_TOKENS, DevicePreference


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

    @field_validator("memory_tokens_per_run")
    @classmethod
    def _one_text_fits(cls, value: int) -> int:
        if 0 < value < MAX_TOKENS:
            raise ValueError(
                f"must be 0 (sized to the device) or at least {MAX_TOKENS}, the tokens of one text"
            )
        return value
