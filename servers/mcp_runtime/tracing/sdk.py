"""The OpenTelemetry SDK set up from the standard OTEL_* variables (needs the `tracing` extra).

The SDK reads most of them itself: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the
resource), OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the sampler; default
parentbased_always_on, so a caller's sampling decision holds), OTEL_EXPORTER_OTLP_* (endpoint,
headers, timeout, compression, certificates) and OTEL_BSP_* (the batch processor). What it
leaves to its auto-configuration, which would also set up metrics and logs exporters, is done
here for traces only: OTEL_TRACES_EXPORTER (otlp, console; default otlp) and
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL (grpc, the default, as in
the Python SDK's own set-up; http/protobuf only where its exporter is installed besides the
extra, see pyproject.toml).
"""

from __future__ import annotations

import os
import re
import threading
from types import ModuleType

import wrapt
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

# The SDK's name for a resource without a service name (followed by ":python...").
_UNKNOWN_SERVICE = "unknown_service"

# How long the exit waits for the spans still queued to be exported. The SDK's shutdown
# waits up to 30 s (each export up to OTEL_EXPORTER_OTLP_TIMEOUT, 10 s) for a collector that
# does not answer, past the pod's grace period (drain timeout + 5 s), which the drain's
# quiet second and the closing of connections (3 s) already use most of.
SHUTDOWN_SECONDS = 1.0

# The OTLP exporters' headers, the traces' own variable first (the exporters take the first
# set), and what the SDK takes as one of their comma-separated entries: name=value, the value
# URL-encoded or at least free of '"', ',', ';' and '\' (its liberal grammar, util/re.py).
_HEADERS_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
_HEADER_ENTRY = re.compile(
    r"[ \t]*[\x21\x23-\x27\x2a\x2b\x2d\x2e\x30-\x39\x41-\x5a\x5e-\x7a\x7c\x7e]+[ \t]*="
    r"[ \t]*[\x20\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*[ \t]*"
)
_HEADER_DELIMITER = re.compile(r"[ \t]*,[ \t]*")


class TracingConfigError(Exception):
    """An OTEL_* variable has a value this runtime cannot export with; the message names it."""


class Tracing:
    """The process's tracer provider; `shutdown` exports what is still queued."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    def shutdown(self) -> None:
        # In a thread of its own, which the exit does not wait for past the bound: the
        # exporter's thread is a daemon too, and the SDK's own atexit shutdown then finds
        # the provider shut down already.
        exporting = threading.Thread(
            target=self._provider.shutdown, name="tracing-shutdown", daemon=True
        )
        exporting.start()
        exporting.join(SHUTDOWN_SECONDS)


def start(service_name: str, service_version: str) -> Tracing:
    """Install a tracer provider exporting to what OTEL_* name, and instrument the database
    drivers as they are imported."""
    processors = _processors()
    provider = TracerProvider(resource=_resource(service_name, service_version))
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    # Only what the server imports: the todo server on SQLite never loads asyncpg.
    wrapt.register_post_import_hook(_instrument_asyncpg, "asyncpg")
    wrapt.register_post_import_hook(_instrument_aiosqlite, "aiosqlite")
    return Tracing(provider)


def _resource(service_name: str, service_version: str) -> Resource:
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; the server's name stands in for
    # the SDK's "unknown_service".
    resource = Resource.create()
    defaults: dict[str, str] = {}
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith(_UNKNOWN_SERVICE):
        defaults[SERVICE_NAME] = service_name
    if SERVICE_VERSION not in resource.attributes:
        defaults[SERVICE_VERSION] = service_version
    return resource.merge(Resource(defaults))


def _processors() -> list[BatchSpanProcessor]:
    """A batch processor for each exporter OTEL_TRACES_EXPORTER names."""
    try:
        return [
            BatchSpanProcessor(_exporter(name)) for name in _listed("OTEL_TRACES_EXPORTER", "otlp")
        ]
    except TracingConfigError:
        raise
    except Exception as exc:
        # The exporters and the processor read the rest of the OTEL_* variables themselves
        # and refuse a value they cannot use by raising (OTEL_EXPORTER_OTLP_TIMEOUT=10s,
        # OTEL_BSP_MAX_QUEUE_SIZE=0): the server serves untraced rather than not at all.
        raise TracingConfigError(
            "the OpenTelemetry SDK cannot export with these OTEL_* settings:"
            f" {type(exc).__name__}: {exc}"
        ) from exc


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        # One JSON object a line, like the logs it shares stdout with.
        return ConsoleSpanExporter(formatter=_one_line)
    if name != "otlp":
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER: {name!r} is not supported; use otlp, console or none"
        )
    _check_headers()
    protocol = _protocol()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "http/protobuf":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as HttpSpanExporter,
            )
        except ImportError:
            raise TracingConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf needs"
                " opentelemetry-exporter-otlp-proto-http, which the tracing extra leaves out"
                " (it brings requests, which FastMCP then loads in every server); use grpc"
            ) from None
        return HttpSpanExporter()
    raise TracingConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported; use grpc or http/protobuf"
    )


def _check_headers() -> None:
    """Refuse headers the exporter would drop, naming the entry but not its value.

    The SDK drops such an entry with a warning that repeats it whole, and an HTTP header
    written as curl takes it (`authorization: Bearer ...`) is one: the token would be in
    the logs, and every export would be refused for want of it.
    """
    for variable in _HEADERS_VARIABLES:
        value = os.environ.get(variable, "")
        if value:
            break
    else:
        return
    for number, entry in enumerate(_HEADER_DELIMITER.split(value), start=1):
        if entry.strip() and not _HEADER_ENTRY.fullmatch(entry.strip()):
            raise TracingConfigError(
                f"{variable}: entry {number} is not name=value; write each header as"
                " name=value, URL-encoded and comma-separated (authorization=Bearer%20TOKEN);"
                " the value is not repeated here, as it may hold a secret"
            )


def _protocol() -> str:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(name, "").strip().lower()
        if value:
            return value
    # The exporter the tracing extra installs (and the Python SDK's own default).
    return "grpc"


def _listed(name: str, default: str) -> list[str]:
    values = [item.strip().lower() for item in os.environ.get(name, "").split(",")]
    return [value for value in values if value] or [default]


def _one_line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


def _instrument_asyncpg(_: ModuleType) -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().instrument()


def _instrument_aiosqlite(_: ModuleType) -> None:
    from mcp_runtime.tracing.aiosqlite_spans import instrument

    instrument()
