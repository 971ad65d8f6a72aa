"""What a session-based (2025-11-25) client sees when a stateful server (`stateless: false`,
one replica) rolls out: the new pod does not know the old pod's sessions, so a session's next
request gets HTTP 404 `Session not found` (or, sent on a kept-alive connection just as the old
pod exits, finds that connection closed); a client that then opens a new session, as the MCP
specification asks, carries on. The chart README's state model says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kube import Kube
from todo_load import TodoRelease, assert_no_call_lost

pytestmark = pytest.mark.timeout(600)

NAMESPACE = "hpa-stateful"
STATEFUL = {"stateless": False, "replicas": 1}


@pytest.fixture(scope="module")
def todo(repo_root: Path, kube: Kube, server_images: list[str], in_cluster_postgresql: None):
    release = TodoRelease(kube, NAMESPACE)
    release.create_namespace()
    release.install(STATEFUL)
    yield release
    release.delete()


def test_a_rollout_ends_a_stateful_servers_sessions_and_clients_reinitialize(
    kube: Kube, todo: TodoRelease
):
    began = time.monotonic()
    (old,) = todo.ready_pods()
    todo.start_load(
        LOAD_CLIENTS="session-based:2",
        LOAD_REINITIALIZE="1",
        LOAD_PAUSE_SECONDS="0.2",
        LOAD_IDLE_SESSION="1",
    )
    time.sleep(3)
    todo.install({**STATEFUL, "logLevel": "debug"})
    kube.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/todo-mcp", "--timeout", "180s")
    kube.wait_for("the old pod to be gone", lambda: old not in todo.pods(), timeout=120)
    time.sleep(3)
    summary = todo.stop_load()
    print("stateful rollout:", summary, f"{time.monotonic() - began:.0f} s")
    # A session idle across the rollout: its next call reaches the new pod, which answers 404.
    assert "Session not found" in summary["idle_session"]["after_stop"], summary
    assert summary["idle_session"]["new_session"] == "ok", summary
    # Each busy client's session was on the old pod: each saw it end and opened another.
    sessions = summary["kinds"]["session-based"]
    assert sessions["reinitialized"] >= 2, summary
    for event in sessions["reinitialized_after"]:
        assert any(
            gone in event for gone in ("Session not found", "Connection closed", "ReadError")
        ), event
    # Re-initialized, the retried call succeeded: nothing lost, every task reads back.
    assert_no_call_lost(summary, at_least=10)
