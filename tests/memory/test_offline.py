"""The server starts and answers with no network at all: nothing is fetched from a model hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Runs inside a fresh network namespace that has only a loopback interface.
DRIVER = """
import asyncio, json, sys
from pathlib import Path
from harness.memory import MemoryProcess

async def main():
    server = MemoryProcess(env={"MCP_DATA_DIR": sys.argv[1]}, log_path=Path(sys.argv[2]))
    server.start().wait_ready()
    try:
        async with server.client() as client:
            await client.call_tool("remember", {"text": "The backup key is in the red safe."})
            hits = await client.call_tool("recall", {"query": "where is the backup key kept"})
        print(json.dumps(hits.structured_content))
    finally:
        server.stop()

asyncio.run(main())
"""


def test_starts_and_recalls_inside_a_namespace_without_network(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    here = Path(__file__).parent
    env["PYTHONPATH"] = os.pathsep.join([str(here), str(here.parent), env.get("PYTHONPATH", "")])
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    result = subprocess.run(
        [
            "unshare",
            "--net",
            "sh",
            "-c",
            'ip link set lo up && exec "$0" "$@"',
            sys.executable,
            str(script),
            str(tmp_path / "data"),
            str(tmp_path / "server.log"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    log = (tmp_path / "server.log").read_text() if (tmp_path / "server.log").exists() else ""
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{log}"
    hits = json.loads(result.stdout.strip().splitlines()[-1])["memories"]
    assert hits[0]["text"] == "The backup key is in the red safe."
