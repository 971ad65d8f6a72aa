"""LazyPool against the real PostgreSQL: readiness pings that a busy pool does not fail."""

from __future__ import annotations

import pytest
from harness.processes import free_port
from mcp_runtime.postgres import DatabaseUnavailable, LazyPool


async def test_ping_of_a_saturated_pool_does_not_wait_for_a_connection(postgres_url: str) -> None:
    # One connection and a 1 s acquire timeout: without the shortcut the ping would
    # queue behind the held connection and fail with a TimeoutError.
    pool = LazyPool(postgres_url, max_size=1, timeout=1.0)
    try:
        await pool.ping()
        async with pool.connection() as conn:
            assert pool.saturated
            await pool.ping()
            assert await conn.fetchval("SELECT 2") == 2
        assert not pool.saturated
        await pool.ping()
    finally:
        await pool.close()


async def test_ping_of_an_unreachable_database_raises() -> None:
    pool = LazyPool(f"postgresql://mcp:mcp@127.0.0.1:{free_port()}/mcp", max_size=1, timeout=1.0)
    with pytest.raises(DatabaseUnavailable, match="database unavailable"):
        await pool.ping()
    await pool.close()
