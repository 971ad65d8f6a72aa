"""structlog JSON logging to stdout, for our own events and for stdlib loggers alike."""

from __future__ import annotations

import logging
import sys

import structlog

from mcp_runtime.log_lines import UtcTimestamp, json_line_renderer
from mcp_runtime.tracing import tracing_enabled

_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    UtcTimestamp(),
]


def configure_logging(level: str) -> None:
    """Send every log record, ours and the libraries', to stdout as one JSON object a line."""
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    shared = [*_SHARED_PROCESSORS, *_trace_processors()]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            json_line_renderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                json_line_renderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # Libraries that install their own handlers would print twice or in plain text.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastmcp", "mcp"):
        library_logger = logging.getLogger(name)
        library_logger.handlers[:] = []
        library_logger.propagate = True
        library_logger.setLevel(logging.NOTSET)
    # The MCP SDK logs every stateless request and session at info; the runtime's own
    # tool_call event already covers each call, so keep those lines for debugging only.
    if numeric_level > logging.DEBUG:
        logging.getLogger("mcp").setLevel(max(numeric_level, logging.WARNING))


def _trace_processors() -> list[structlog.typing.Processor]:
    # Only when traces are exported: without them no event pays for the span lookup.
    if not tracing_enabled():
        return []
    from mcp_runtime.tracing.log_fields import add_trace_ids

    return [add_trace_ids]
