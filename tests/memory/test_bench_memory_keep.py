"""`bench/memory.py --keep`: a directory it cannot reuse is refused by name, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bench(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "memory.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
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
