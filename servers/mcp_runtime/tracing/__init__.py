"""OpenTelemetry traces, when the standard OTEL_* variables ask for them.

This module is the gate and reads only the environment: a server without tracing configured
never imports the OpenTelemetry SDK, its exporters or the instrumentations (the `tracing`
extra), and its requests take no step they would not take without this package. With
OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER set
(and neither OTEL_TRACES_EXPORTER=none nor OTEL_SDK_DISABLED=true), each serving process
installs an SDK tracer provider (`sdk.py`) that exports FastMCP's MCP spans and the database
spans of asyncpg and aiosqlite, takes a trace context from HTTP headers when `_meta` carries
none (`http_context.py`), and its log events carry `trace_id` and `span_id`
(`log_fields.py`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.util import find_spec
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from mcp_runtime.tracing.sdk import Tracing

# What makes a process export traces; an empty value is unset (Helm renders unset as "").
_REQUESTING = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)

_log = structlog.get_logger("mcp_runtime.tracing")


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the OTEL_* variables ask this process to export traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in _REQUESTING)


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether traces are requested and the `tracing` extra is installed to export them."""
    return tracing_requested(environ) and find_spec("opentelemetry.sdk") is not None


def start_tracing(service_name: str, service_version: str) -> Tracing | None:
    """Install the SDK tracer provider for this process when tracing is enabled; None if not.

    Called once per serving process (each worker after the fork: the exporter's connections
    and the batch processor's thread belong to one process).
    """
    if not tracing_requested():
        return None
    if find_spec("opentelemetry.sdk") is None:
        # A chart that turns tracing on for an image built without the extra: serve anyway.
        _log.warning(
            "tracing_unavailable",
            reason="OTEL_* variables ask for traces but the OpenTelemetry SDK is not installed",
            hint="install mcp-servers[tracing] (images: build-images.sh with EXTRAS=tracing)",
        )
        return None
    from mcp_runtime.tracing.sdk import TracingConfigError, start

    try:
        return start(service_name, service_version)
    except TracingConfigError as exc:
        _log.error("tracing_disabled", reason=str(exc))
        return None
