"""Settings from the environment: TODO_BACKEND_*, nested ones with `__`."""

from __future__ import annotations

from mcp_backend_client import Protocol, Resilience
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackendSettings(BaseSettings):
    """E.g. TODO_BACKEND_TODO_URL=http://todo-mcp:8001,
    TODO_BACKEND_RESILIENCE__TIMEOUT_SECONDS=2, TODO_BACKEND_RESILIENCE__BREAKER_RESET_SECONDS=5.
    """

    model_config = SettingsConfigDict(env_prefix="TODO_BACKEND_", env_nested_delimiter="__")

    todo_url: str = "http://127.0.0.1:8001"
    todo_protocol: Protocol = "auto"
    resilience: Resilience = Resilience()
    host: str = "0.0.0.0"
    port: int = 8080
    log_level: str = "info"
