"""`trace_id` and `span_id` on every log event written inside a traced request."""

from __future__ import annotations

from opentelemetry import trace
from structlog.typing import EventDict, WrappedLogger


def add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A structlog processor: the current span's ids, in the W3C traceparent's hex form, so
    that a trace found in the backend leads to its log lines and back."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event.setdefault("span_id", trace.format_span_id(context.span_id))
    return event
