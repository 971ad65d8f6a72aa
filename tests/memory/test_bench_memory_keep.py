"""`bench/memory.py --scale`: a small run goes to its end, and `--keep` refuses a directory it
cannot reuse by name, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bench(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "memory.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_keep_needs_scale(tmp_path: Path) -> None:
    finished = _bench("--keep", str(tmp_path))
    assert finished.returncode == 2
    assert "--keep: only with --scale" in finished.stderr


def test_a_kept_store_without_its_truth_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    finished = _bench("--scale", "1000", "--keep", str(tmp_path))
    assert finished.returncode == 2
    assert f"--keep: {tmp_path} holds a store without truth-1000-6000-200.npy" in finished.stderr


def test_a_small_scale_run_prints_every_table(tmp_path: Path) -> None:
    # The scale bench takes minutes at a million and is run by hand; a change to a function
    # it shares with the default bench once broke it at its last step (the bulk import).
    finished = _bench(
        *("--scale", "2000", "--recalls", "8", "--real-texts", "40", "--no-ratio"),
        "--keep",
        str(tmp_path),
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    for line in (
        "start to ready, rebuilding the index",
        "start to ready, from the snapshot",
        "recall@10 vs exact",
        "10 sessions, paragraph queries",
        "bulk import, 40 real texts, MEMORY_MODEL=all-MiniLM-L6-v2-int8",
        "bulk import, 40 real texts, MEMORY_MODEL=all-MiniLM-L6-v2-dynamic-int8",
    ):
        assert line in finished.stdout, finished.stdout
    assert (tmp_path / "truth-2000-40-8.npy").exists()
