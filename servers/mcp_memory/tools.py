"""The memory MCP tools: thin typed wrappers over the memory service."""

from functools import partial
from typing import Annotated, Any

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from mcp_runtime.tool_errors import reported_to_caller
from pydantic import Field

from mcp_memory.errors import MemoryServiceError, NotReady, StoreUnavailable
from mcp_memory.models import (
    Forgotten,
    MemoryStats,
    NewMemory,
    Recalled,
    Remembered,
    StoredMemory,
)
from mcp_memory.service import DEFAULT_K, MAX_K, MemoryService

Tags = Annotated[list[str] | None, Field(description="Labels, e.g. a project or a kind of note.")]

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True)
WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False)


# Service errors already name the argument, so their messages reach the client as they are.
_as_tool_error = partial(
    reported_to_caller, retry_later=(StoreUnavailable, NotReady), rejected=MemoryServiceError
)


def register_tools(mcp: FastMCP, service: MemoryService) -> None:
    @mcp.tool(annotations=WRITES)
    async def remember(
        text: Annotated[str, Field(description="What to remember; must not be empty.")],
        tags: Tags = None,
        metadata: Annotated[
            dict[str, Any] | None, Field(description="Any JSON object, returned as is.")
        ] = None,
    ) -> StoredMemory:
        """Store a text for later semantic recall and return it with its new id.

        Only about the first 200 words shape the embedding; longer texts are kept whole.
        """
        with _as_tool_error():
            return await service.remember(text, tags, metadata)

    @mcp.tool(annotations=WRITES)
    async def remember_many(
        items: Annotated[
            list[NewMemory],
            Field(description=f"Up to {service.max_texts_per_call} memories."),
        ],
    ) -> Remembered:
        """Store several texts at once (embedded together, faster than one by one).

        All of them are stored, or none when the call fails.
        """
        with _as_tool_error():
            return Remembered(memories=await service.remember_many(items))

    @mcp.tool(annotations=READ_ONLY)
    async def recall(
        query: Annotated[str, Field(description="What to look for, in plain words.")],
        k: Annotated[int, Field(description=f"How many memories to return, 1 to {MAX_K}.")] = (
            DEFAULT_K
        ),
        tags: Annotated[
            list[str] | None, Field(description="Only memories carrying every one of these tags.")
        ] = None,
    ) -> Recalled:
        """Find the k memories most similar in meaning to the query, with cosine scores."""
        with _as_tool_error():
            return Recalled(memories=await service.recall(query, k, tags))

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
    async def forget(
        id: Annotated[str | None, Field(description="Forget the memory with this id.")] = None,
        tag: Annotated[str | None, Field(description="Forget every memory with this tag.")] = None,
    ) -> Forgotten:
        """Delete one memory by id, or every memory carrying a tag. Give exactly one of them."""
        with _as_tool_error():
            return await service.forget(id, tag)

    @mcp.tool(annotations=READ_ONLY)
    async def stats() -> MemoryStats:
        """How many memories there are, per tag, and which model and device embed them."""
        with _as_tool_error():
            return await service.stats()
