"""Load for the rolling-upgrade test, run in a pod on the cluster: create_task calls on the todo
server through its Service, from several threads, until /tmp/stop appears; then every task it
was told was created is read back. Prints one JSON summary line and exits 0.

Standard library only (runs in the runtime image); uses the chart's helm-test client
(mcp_smoke.py, mounted next to this file). Each call opens its own MCP conversation over a new
connection, so a call lands on whichever pod the Service picks at that moment.
"""

import json
import os
import threading
import time
from pathlib import Path

from mcp_smoke import McpHttp, open_conversation

URL = os.environ["MCP_URL"]
THREADS = int(os.environ.get("LOAD_THREADS", "4"))
STOP = Path("/tmp/stop")


def conversation() -> McpHttp:
    return open_conversation(URL, None, "upgrade-load")[0]


def structured(result: dict) -> dict:
    return result.get("structuredContent") or json.loads(result["content"][0]["text"])


def worker(index: int, created: list[int], failures: list[str]) -> None:
    sequence = 0
    while not STOP.exists():
        sequence += 1
        title = f"load {index}-{sequence}"
        try:
            result = conversation().call(
                "tools/call", {"name": "create_task", "arguments": {"title": title}}
            )
            if result.get("isError"):
                failures.append(f"{title}: {result.get('content')}")
            else:
                created.append(structured(result)["id"])
        except Exception as error:  # every failure is a lost call to report
            failures.append(f"{title}: {type(error).__name__}: {error}")


def wait_until_admitted(seconds: float = 60) -> None:
    """The server's NetworkPolicy admits this pod once the policy controller has seen its IP."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conversation()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> None:
    created: list[int] = []
    failures: list[str] = []
    wait_until_admitted()
    Path("/tmp/started").touch()
    threads = [threading.Thread(target=worker, args=(i, created, failures)) for i in range(THREADS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - began
    missing = []
    client = conversation()
    for task_id in created:
        result = client.call("tools/call", {"name": "get_task", "arguments": {"task_id": task_id}})
        if result.get("isError"):
            missing.append(task_id)
    print(
        json.dumps(
            {
                "calls": len(created) + len(failures),
                "created": len(created),
                "failures": failures[:20],
                "failure_count": len(failures),
                "missing": missing[:20],
                "seconds": round(seconds, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
