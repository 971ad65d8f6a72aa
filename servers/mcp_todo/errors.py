"""Domain errors of the task service; the tool and REST layers translate them."""

from mcp_runtime.database_unavailable import DatabaseUnavailable


class TaskError(Exception):
    """Base class for errors the service reports to callers."""


class InvalidArgument(TaskError):
    """An argument failed validation; `argument` names it."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument


class TaskNotFound(TaskError):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"task_id: no task with id {task_id}")
        self.argument = "task_id"
        self.task_id = task_id


class StoreUnavailable(TaskError, DatabaseUnavailable):
    """The database cannot be reached; callers should retry later. Built from the cause."""


class StoreFull(TaskError):
    """The database's disk is full: writes fail until space is freed, reads still work."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            "storage full, free space for the database and try again "
            f"({type(cause).__name__}: {cause})"
        )
        self.cause = cause
