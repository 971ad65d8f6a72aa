"""Domain errors of the task service; the tool and REST layers translate them."""


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


class StoreUnavailable(TaskError):
    """The database cannot be reached; callers should retry later."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"database unavailable, try again later ({type(cause).__name__}: {cause})")
