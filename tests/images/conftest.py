"""Fixtures for the image tests: a Docker engine, freshly built images, scratch databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from harness.locks import locked

# Held by whatever runs scripts/build-images.sh or reads build/wheelhouse: two builds at once
# would rewrite one wheelhouse and retag one image under each other.
BUILD_LOCK = "build-images"


@pytest.fixture(scope="session")
def built_images(repo_root: Path, run_tmp_path: Path) -> str:
    """Starts the engine and (re)builds every image, once per run; returns the build report.

    The build is incremental, so with nothing changed this takes seconds.
    """
    # `make test` has just built every image with `make build-images`, which kept its report.
    made = repo_root / ".run" / "build-images.report"
    if os.environ.get("MCP_SERVERS_IMAGES_BUILT") == "1" and made.is_file():
        return made.read_text()
    report = run_tmp_path / "build-images.report"
    with locked(BUILD_LOCK):
        # Another worker of this run built them while this one waited for the lock.
        if report.exists():
            return report.read_text()
        subprocess.run(["bash", str(repo_root / "scripts" / "docker-engine.sh")], check=True)
        result = subprocess.run(
            ["bash", str(repo_root / "scripts" / "build-images.sh")],
            capture_output=True,
            text=True,
            cwd=repo_root,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        # The script's progress lines (base images, wheelhouses) are on stderr, the table on
        # stdout.
        print(result.stderr + result.stdout)
        report.write_text(result.stderr + result.stdout)
    return result.stderr + result.stdout


@pytest.fixture
def build_lock() -> Iterator[None]:
    """Held through a test that builds images or reads build/wheelhouse itself."""
    with locked(BUILD_LOCK):
        yield


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Creates an empty database in the project's PostgreSQL; returns its URL."""
    created: list[str] = []

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create() -> str:
        name = f"images_{uuid.uuid4().hex[:12]}"
        asyncio.run(execute(f"CREATE DATABASE {name}"))
        created.append(name)
        return _with_database(postgres_url, name)

    yield create
    for name in created:
        asyncio.run(execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
