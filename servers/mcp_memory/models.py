"""Memory data shapes shared by the stores, the index, the service and the tools."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StoredMemory(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class NewMemory(BaseModel):
    """One memory to store with remember_many."""

    text: str = Field(description="The text to remember; must not be empty.")
    tags: list[str] | None = Field(default=None, description="Labels for filtering and forgetting.")
    metadata: dict[str, Any] | None = Field(default=None, description="Any JSON object kept as is.")


class Remembered(BaseModel):
    memories: list[StoredMemory]


class RecalledMemory(StoredMemory):
    score: float = Field(description="Cosine similarity to the query, from -1 to 1.")


class Recalled(BaseModel):
    memories: list[RecalledMemory] = Field(description="Most similar first.")


class Forgotten(BaseModel):
    forgotten: int
    ids: list[str]


class MemoryStats(BaseModel):
    memories: int
    tags: dict[str, int] = Field(description="The 100 most used tags and their memory counts.")
    distinct_tags: int
    model: str
    dimensions: int
    device: Literal["cuda", "cpu"]
    execution_provider: str
    backend: Literal["postgresql", "sqlite"]
