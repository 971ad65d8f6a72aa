"""mcp-todo-backend: serve the app with uvicorn, settings from the environment."""

from __future__ import annotations

import logging

import structlog
import uvicorn

from mcp_todo_backend.app import create_app
from mcp_todo_backend.settings import BackendSettings


def main() -> None:
    settings = BackendSettings()
    level = logging.getLevelName(settings.log_level.upper())
    # One JSON object per line on stdout, as the MCP servers log.
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # In-flight requests finish within Kubernetes' default 30 s grace period.
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
