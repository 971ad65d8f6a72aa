"""Failed readiness checks in the log: when a failure starts, not at every probe."""

from __future__ import annotations

from typing import Any

import httpx
from fastmcp import FastMCP
from mcp_runtime import RuntimeSettings, ServerSpec, build_app
from mcp_runtime.readiness_log import REPEAT_SECONDS, ReadinessLog
from structlog.testing import capture_logs


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def logged(events: list[dict[str, Any]]) -> list[tuple[str, str, str, float]]:
    return [
        (e["event"], e["log_level"], e["check"], e["failing_seconds"])
        for e in events
        if e["event"] in ("readiness_check_failed", "readiness_restored")
    ]


def test_a_failure_is_logged_when_it_starts_again_while_it_lasts_and_when_it_ends() -> None:
    clock = Clock()
    log = ReadinessLog(clock)
    with capture_logs() as events:
        for _ in range(5):  # probes a few seconds apart
            log.failed("database", "database: OSError: refused")
            clock.now += 5
        clock.now += REPEAT_SECONDS
        log.failed("database", "database: no answer within 2 s")
        log.failed("database", "database: no answer within 2 s")
        clock.now += 1
        log.failed("memory_index", "memory_index: NotReady: memory index rebuilding")
        clock.now += 2
        log.passed()
        log.passed()
    assert logged(events) == [
        ("readiness_check_failed", "warning", "database", 0.0),
        ("readiness_check_failed", "warning", "database", 25.0 + REPEAT_SECONDS),
        # The server has not been ready since the database first failed.
        ("readiness_check_failed", "warning", "memory_index", 26.0 + REPEAT_SECONDS),
        ("readiness_restored", "info", "memory_index", 28.0 + REPEAT_SECONDS),
    ]
    assert events[1]["reason"] == "database: no answer within 2 s"


def test_a_failure_after_a_recovery_counts_from_zero() -> None:
    clock = Clock()
    log = ReadinessLog(clock)
    with capture_logs() as events:
        log.failed("database", "database: OSError: refused")
        clock.now += 30
        log.passed()
        clock.now += 100
        log.failed("database", "database: OSError: refused")
    assert logged(events) == [
        ("readiness_check_failed", "warning", "database", 0.0),
        ("readiness_restored", "info", "database", 30.0),
        ("readiness_check_failed", "warning", "database", 0.0),
    ]


def test_a_passing_server_logs_nothing() -> None:
    with capture_logs() as events:
        ReadinessLog().passed()
    assert events == []


async def test_ready_logs_a_failing_check_once_and_its_recovery() -> None:
    down = True

    async def database() -> None:
        if down:
            raise OSError("connection refused")

    mcp = FastMCP("probed")

    @mcp.tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    app = build_app(ServerSpec(mcp=mcp, readiness_checks=[database]), RuntimeSettings())
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):
        with capture_logs() as events:
            statuses = [(await http.get("/ready")).status_code for _ in range(4)]
            down = False
            statuses.append((await http.get("/ready")).status_code)
    assert statuses == [503, 503, 503, 503, 200]
    assert [(e["event"], e["check"]) for e in events if e["event"].startswith("readiness")] == [
        ("readiness_check_failed", "database"),
        ("readiness_restored", "database"),
    ]
    assert events[0]["reason"] == "database: OSError: connection refused"
