"""The SQLite store on a data dir it cannot open, a file it cannot write, and a full disk.

Real processes on real faults: `chattr +i` (immutable, even for root), a data dir whose
parent is a file, and a 1 MiB tmpfs filled to the last byte. Needs root, as CI runs.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness.mcp_clients import connect
from harness.processes import ServerProcess
from harness.servers import launch

UNAVAILABLE = "database unavailable, try again later"
FULL = "storage full, free space for the database and try again"

# CI runs as root; elsewhere these need root for chattr and mount. Under CI=true a non-root run
# fails rather than skips, so that a green CI means these ran.
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI") != "true", reason="chattr and mount need root"
)


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True)


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths to make immutable; made mutable again afterwards, so tmp_path can be removed."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        _chattr("-i", path)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


def _existing_database(data: Path) -> Path:
    """A data dir holding a database created by the server itself."""
    server = launch("mcp-todo", data.parent, {"MCP_DATA_DIR": str(data)})
    try:
        server.wait_ready()
    finally:
        assert server.stop() == 0
    return data


def _threads(server: ServerProcess) -> int:
    return len(os.listdir(f"/proc/{server.pid}/task"))


def _ready(server: ServerProcess) -> httpx.Response:
    return httpx.get(f"{server.base_url}/ready", timeout=10)


def _stop_timed(server: ServerProcess) -> tuple[int, float]:
    started = time.monotonic()
    code = server.stop(timeout=20)
    return code, time.monotonic() - started


def _fill(disk: Path) -> Path:
    """Write a file until the filesystem has not one byte left."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        while True:  # the last few bytes, which a whole block no longer fits
            try:
                os.write(fd, b"\0")
            except OSError:
                break
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("fault", ["immutable dir with a database", "parent is a file"])
def test_unopenable_data_dir_leaks_no_thread_and_exits_on_sigterm(
    tmp_path: Path, immutable: list[Path], fault: str
) -> None:
    if fault == "parent is a file":
        (tmp_path / "file").write_text("not a directory")
        data = tmp_path / "file" / "data"
        cause = "NotADirectoryError"
    else:
        data = _existing_database(tmp_path / "data")
        _chattr("+i", data)
        immutable.append(data)
        # The database opens; its -wal and -shm files cannot be created next to it.
        cause = "OperationalError: unable to open database file"
    server = launch("mcp-todo", tmp_path, {"MCP_DATA_DIR": str(data)})
    try:
        first = _ready(server)
        assert first.status_code == 503, first.text
        reason = first.json()["reason"]
        assert reason.startswith(f"database_reachable: StoreUnavailable: {UNAVAILABLE} ({cause}")

        write = httpx.post(f"{server.base_url}/tasks", json={"title": "x"}, timeout=10)
        assert write.status_code == 503, write.text
        assert write.json()["error"].startswith(f"{UNAVAILABLE} ({cause}")

        before = _threads(server)
        for _ in range(4):
            # Past the pause between attempts to open, so each round tries again.
            time.sleep(1.2)
            for _ in range(10):
                assert _ready(server).status_code == 503
        # The last attempt's thread may still be on its way out.
        deadline = time.monotonic() + 2
        while _threads(server) > before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _threads(server) <= before, "a thread per failed attempt to open the database"
    finally:
        code, seconds = _stop_timed(server)
    assert code == 0, server.log_text()[-3000:]
    assert seconds < 10, f"SIGTERM took {seconds:.1f} s"


def test_the_store_opens_once_the_data_dir_is_writable_again(
    tmp_path: Path, immutable: list[Path]
) -> None:
    data = _existing_database(tmp_path / "data")
    _chattr("+i", data)
    immutable.append(data)
    server = launch("mcp-todo", tmp_path, {"MCP_DATA_DIR": str(data)})
    try:
        assert _ready(server).status_code == 503
        _chattr("-i", data)
        immutable.remove(data)
        server.wait_ready(200, timeout=15)
        created = httpx.post(f"{server.base_url}/tasks", json={"title": "late"}, timeout=10)
        assert created.status_code == 201, created.text
    finally:
        code, _ = _stop_timed(server)
    assert code == 0


def test_a_read_only_database_file_is_not_ready_and_writes_are_503(
    tmp_path: Path, immutable: list[Path]
) -> None:
    data = _existing_database(tmp_path / "data")
    database = data / "todo.sqlite3"
    _chattr("+i", database)
    immutable.append(database)
    server = launch("mcp-todo", tmp_path, {"MCP_DATA_DIR": str(data)})
    try:
        ready = _ready(server)
        assert ready.status_code == 503, ready.text
        assert "attempt to write a readonly database" in ready.json()["reason"]
        write = httpx.post(f"{server.base_url}/tasks", json={"title": "x"}, timeout=10)
        assert write.status_code == 503, write.text
        assert write.json()["error"] == (
            f"{UNAVAILABLE} (OperationalError: attempt to write a readonly database)"
        )
        assert httpx.get(f"{server.base_url}/tasks", timeout=10).status_code == 200
    finally:
        code, _ = _stop_timed(server)
    assert code == 0


async def test_full_disk_is_507_and_not_ready_until_space_is_freed(small_disk: Path) -> None:
    server = launch("mcp-todo", small_disk.parent, {"MCP_DATA_DIR": str(small_disk / "data")})
    try:
        server.wait_ready()
        tasks = f"{server.base_url}/tasks"
        kept = httpx.post(tasks, json={"title": "before the disk filled"}, timeout=10).json()
        filler = _fill(small_disk)
        big = {"title": "t" * 500, "description": "d" * 10_000}

        ready = _ready(server)
        assert ready.status_code == 503, ready.text
        assert ready.json()["reason"] == (
            f"database_writable: StoreFull: {FULL} (OperationalError: database or disk is full)"
        )
        write = httpx.post(tasks, json=big, timeout=10)
        assert write.status_code == 507, write.text
        assert write.json() == {"error": f"{FULL} (OperationalError: database or disk is full)"}
        async with connect("fastmcp-modern", server.mcp_url) as client:
            failed = await client.call("create_task", big)
        assert failed.is_error and failed.text.startswith(FULL), failed.text
        # Reads need no space.
        assert httpx.get(f"{tasks}/{kept['id']}", timeout=10).json() == kept

        filler.unlink()
        server.wait_ready(200, timeout=10)
        assert httpx.post(tasks, json=big, timeout=10).status_code == 201
    finally:
        code, _ = _stop_timed(server)
    assert code == 0, server.log_text()[-3000:]
