"""Errors the memory service reports to callers; the tool layer turns them into ToolErrors."""

from mcp_runtime.database_unavailable import DatabaseUnavailable


class MemoryServiceError(Exception):
    """Base class for errors a caller should see verbatim."""


class InvalidArgument(MemoryServiceError):
    """An argument failed validation; the message starts with the argument's name."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument


class StoreUnavailable(MemoryServiceError, DatabaseUnavailable):
    """The database cannot be reached; callers should retry later. Built from the cause."""


class NotReady(MemoryServiceError):
    """The embedding model is still loading, or failed to load."""


class ModelMismatch(MemoryServiceError):
    """The database holds vectors from another embedding model; they cannot be compared."""

    def __init__(self, stored: str, running: str) -> None:
        super().__init__(
            f"the database holds embeddings of model {stored!r} but this server computes "
            f"{running!r} (MEMORY_MODEL); set MEMORY_MODEL={stored}, point DATABASE_URL at "
            "another database, or re-embed the memories"
        )
