"""CLIENT spans for the SQL statements aiosqlite runs, in the trace of the code awaiting them.

OpenTelemetry has no aiosqlite instrumentation, and its sqlite3 one cannot stand in: it
traces only statements run through an explicit cursor (not `Connection.execute`, which the
servers' stores use), and aiosqlite runs them on its own thread, where the caller's trace
context is not current. So the span is opened here, on the event loop, around
`Connection._execute`, the one coroutine every aiosqlite statement is awaited through, and
covers the statement's whole wait, the hand-off to that thread included; statements outside a
trace (schema set-up, readiness probes) get none. Attribute names are the stable database
semantic conventions' (`db.system.name`, `db.operation.name`, `db.query.text`); parameters
are never recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.trace import SpanKind

# The names of the functions aiosqlite hands a statement to: sqlite3's connection and cursor
# methods and aiosqlite's own helpers. Others (commit, close, cursor) are no statement.
_STATEMENT_FUNCTIONS = frozenset(
    {"execute", "executemany", "executescript", "_execute_fetchall", "_execute_insert"}
)


def instrument() -> None:
    """Wrap `aiosqlite.core.Connection._execute` once per process."""
    import aiosqlite.core

    if isinstance(aiosqlite.core.Connection._execute, wrapt.FunctionWrapper):
        return
    tracer = trace.get_tracer(__name__)

    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        _: object,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        function = getattr(args[0], "__name__", None) if args else None
        statement = args[1] if len(args) > 1 else None
        if (
            function not in _STATEMENT_FUNCTIONS
            or not isinstance(statement, str)
            # Outside a traced request (schema set-up, readiness probes) a statement would be
            # a trace of its own every few seconds.
            or not trace.get_current_span().get_span_context().is_valid
        ):
            return await wrapped(*args, **kwargs)
        operation = _operation(statement)
        attributes = {"db.system.name": "sqlite", "db.query.text": statement}
        if operation:
            attributes["db.operation.name"] = operation
        with tracer.start_as_current_span(
            operation or "sqlite", kind=SpanKind.CLIENT, attributes=attributes
        ):
            return await wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(aiosqlite.core, "Connection._execute", traced)


def _operation(statement: str) -> str:
    """The statement's first keyword (SELECT, INSERT, PRAGMA, ...), the span's name."""
    words = statement.split(maxsplit=1)
    return words[0].upper() if words else ""
