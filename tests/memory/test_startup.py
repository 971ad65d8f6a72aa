"""Starting the server: device logging, and the clear errors bad settings or databases get."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import asyncpg
import httpx
import onnxruntime as ort
import pytest
from fastmcp.exceptions import ToolError
from harness.memory import StartServer
from harness.processes import ServerProcess, free_port
from mcp_memory.embedding_models import DEFAULT_MODEL, DYNAMIC_INT8


def events(log: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_log_says_which_device_loaded_the_model(start_server: StartServer, data_dir: Path) -> None:
    server = start_server(MCP_DATA_DIR=str(data_dir))
    names = [e["event"] for e in events(server.log())]
    assert names.index("embedding_model_loading") < names.index("embedding_model_loaded")
    loaded = next(e for e in events(server.log()) if e["event"] == "embedding_model_loaded")
    assert loaded["device"] == "cpu"
    assert loaded["execution_provider"] == "CPUExecutionProvider"
    assert httpx.get(f"{server.url}/ready").json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEMORY_DEVICE": "tpu"}, "MEMORY_DEVICE: Input should be 'auto', 'cuda' or 'cpu'"),
        (
            {"MEMORY_MODEL": "all-MiniLM-L12-v2"},
            "MEMORY_MODEL: Input should be 'all-MiniLM-L6-v2-int8' or "
            "'all-MiniLM-L6-v2-dynamic-int8'",
        ),
        ({"MEMORY_BATCH_SIZE": "0"}, "MEMORY_BATCH_SIZE: Input should be greater than or equal"),
        (
            {"MEMORY_MAX_TEXTS_PER_CALL": "0"},
            "MEMORY_MAX_TEXTS_PER_CALL: Input should be greater than or equal to 1",
        ),
        (
            {"MEMORY_MAX_TEXT_CHARS": "0"},
            "MEMORY_MAX_TEXT_CHARS: Input should be greater than or equal to 1",
        ),
        (
            {"MEMORY_TOKENS_PER_RUN": "100"},
            "MEMORY_TOKENS_PER_RUN: must be 0 (sized to the device) or at least 256, "
            "the tokens of one text (got '100')",
        ),
        (
            {"MEMORY_INDEX_CONNECTIVITY": "2"},
            "MEMORY_INDEX_CONNECTIVITY: Input should be greater than or equal to 4",
        ),
    ],
)
def test_bad_settings_exit_2_naming_the_variable(
    start_server: StartServer, data_dir: Path, env: dict[str, str], message: str
) -> None:
    server = start_server(wait=False, MCP_DATA_DIR=str(data_dir), **env)
    assert server.process is not None
    assert server.process.wait(timeout=60) == 2
    assert message in server.log()


def test_cuda_required_without_a_cuda_build(start_server: StartServer, data_dir: Path) -> None:
    server = start_server(wait=False, MCP_DATA_DIR=str(data_dir), MEMORY_DEVICE="cuda")
    assert server.process is not None
    if "CUDAExecutionProvider" in ort.get_available_providers():
        server.wait_ready()
        return
    assert server.process.wait(timeout=60) == 2
    assert "MEMORY_DEVICE=cuda but this onnxruntime has no CUDAExecutionProvider" in server.log()


def test_a_missing_derived_model_exits_2_saying_how_to_make_it(
    data_dir: Path, tmp_path: Path
) -> None:
    # The server looks under sys.prefix: an environment of its own, without the model, that
    # sees the test environment's packages.
    bare = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    (Path(sysconfig.get_paths(vars={"base": str(bare)})["purelib"]) / "tests.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    )
    server = ServerProcess(
        [str(bare / "bin" / "python"), "-m", "mcp_memory"],
        {"MCP_DATA_DIR": str(data_dir), "MEMORY_MODEL": DYNAMIC_INT8},
        tmp_path / "server.log",
    ).start()
    try:
        assert server.process.wait(timeout=60) == 2
    finally:
        server.stop()
    missing = bare / "share" / "mcp-servers" / "models" / f"{DYNAMIC_INT8}.onnx"
    assert (
        f"MEMORY_MODEL={DYNAMIC_INT8}: {missing} is missing; derive it with "
        "`python -m mcp_memory.model_derivation`"
    ) in server.log_text()


async def test_a_database_of_the_other_model_stops_startup(
    start_server: StartServer, data_dir: Path
) -> None:
    start_server(MCP_DATA_DIR=str(data_dir)).stop()
    server = start_server(wait=False, MCP_DATA_DIR=str(data_dir), MEMORY_MODEL=DYNAMIC_INT8)
    assert server.process is not None
    assert server.process.wait(timeout=60) != 0
    assert (
        f"the database holds embeddings of model '{DEFAULT_MODEL}' but this server computes "
        f"'{DYNAMIC_INT8}' (MEMORY_MODEL); set MEMORY_MODEL={DEFAULT_MODEL}"
    ) in server.log()


@pytest.mark.postgres
async def test_a_database_of_another_model_stops_startup(
    start_server: StartServer, memory_database: str
) -> None:
    start_server(DATABASE_URL=memory_database).stop()
    conn = await asyncpg.connect(memory_database)
    try:
        await conn.execute("UPDATE memory_model SET model = 'some-other-model'")
    finally:
        await conn.close()
    server = start_server(wait=False, DATABASE_URL=memory_database)
    assert server.process is not None
    assert server.process.wait(timeout=60) != 0
    assert (
        "the database holds embeddings of model 'some-other-model' but this server computes "
        "'all-MiniLM-L6-v2-int8'"
    ) in server.log()


async def test_unreachable_database_keeps_ready_false_with_the_reason(
    start_server: StartServer,
) -> None:
    closed_port = free_port()
    server = start_server(
        wait=False, DATABASE_URL=f"postgresql://mcp:mcp@127.0.0.1:{closed_port}/x"
    )
    reason = ""
    for _ in range(600):
        assert server.process is not None and server.process.poll() is None, server.log()
        try:
            ready = httpx.get(f"{server.url}/ready", timeout=10)
        except httpx.TransportError:
            ready = None
        if ready is not None:
            assert ready.status_code == 503
            reason = ready.json()["reason"]
            # The model loads first; then only the database keeps the server unready.
            if not reason.startswith("embedding_model"):
                break
        await asyncio.sleep(0.1)
    assert reason.startswith("database: StoreUnavailable: database unavailable"), reason
    assert httpx.get(f"{server.url}/health").status_code == 200
    async with server.client() as client:
        with pytest.raises(ToolError, match="database unavailable, try again later"):
            await client.call_tool("recall", {"query": "anything"})
